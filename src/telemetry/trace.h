#pragma once
// Traces: W3C Trace Context (`traceparent`) in and out, head sampling, and the OTLP/HTTP JSON encoding of spans.
// The data path fills a SpanRecord per traced request and hands it to a SpanSink (ops/trace_exporter.h batches and
// posts them); with tracing off nothing here runs.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace postern::telemetry {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

// What an incoming `traceparent` says (https://www.w3.org/TR/trace-context/#traceparent-header).
struct TraceParent {
  TraceId trace_id{};
  SpanId parent_id{};
  bool sampled = false;
};

// Version 00 exactly (55 characters), or a later version with at least those fields; lower-case hex; trace and
// parent ids not all zero; version ff refused. Anything else: nullopt (the request starts a new trace).
[[nodiscard]] std::optional<TraceParent> parse_traceparent(std::string_view value) noexcept;

inline constexpr std::size_t traceparent_size = 55;
// "00-<trace>-<span>-0[01]" into `out`.
void format_traceparent(char (&out)[traceparent_size], const TraceId& trace, const SpanId& span, bool sampled) noexcept;

// TraceIdRatioBased: the same trace id gives the same answer on every replica (its last 8 bytes against the ratio).
[[nodiscard]] bool sampled_by_ratio(const TraceId& trace, double ratio) noexcept;

[[nodiscard]] std::string to_hex(const std::uint8_t* data, std::size_t size);

struct SpanRecord {
  enum class Kind : std::uint8_t { server = 2, client = 3 };  // OTLP's SpanKind numbers
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_id{};  // all zero: a root span
  std::string name;
  Kind kind = Kind::server;
  std::uint64_t start_unix_ns = 0, end_unix_ns = 0;
  bool error = false;  // OTLP status ERROR (5xx, no answer)
  std::vector<std::pair<std::string, std::variant<std::string, std::int64_t>>> attributes;
};

// An ExportTraceServiceRequest in OTLP's JSON encoding (ids as hex, times as decimal strings).
[[nodiscard]] std::string encode_otlp_json(const std::vector<SpanRecord>& spans, std::string_view service_name,
                                           std::string_view service_version);

// Where the data path hands finished spans. Thread-safe; never blocks (a full queue drops and counts).
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void submit(SpanRecord span) = 0;
  [[nodiscard]] virtual double sample_ratio() const noexcept = 0;
};

}  // namespace postern::telemetry
