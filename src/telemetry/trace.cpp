#include "telemetry/trace.h"

#include <charconv>

#include "core/strings.h"

namespace postern::telemetry {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent
}

template <std::size_t N>
bool read_hex(std::string_view s, std::array<std::uint8_t, N>& out) noexcept {
  if (s.size() != 2 * N) return false;
  bool any = false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    any = any || out[i] != 0;
  }
  return any;  // all-zero ids are invalid
}

constexpr char digits[] = "0123456789abcdef";

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view v) noexcept {
  if (v.size() < traceparent_size) return std::nullopt;
  const int v0 = hex_value(v[0]), v1 = hex_value(v[1]);
  if (v0 < 0 || v1 < 0 || (v0 == 15 && v1 == 15)) return std::nullopt;  // version ff is forbidden
  const bool version00 = v0 == 0 && v1 == 0;
  if (version00 && v.size() != traceparent_size) return std::nullopt;
  if (!version00 && v.size() > traceparent_size && v[traceparent_size] != '-') return std::nullopt;
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  TraceParent tp;
  if (!read_hex(v.substr(3, 32), tp.trace_id) || !read_hex(v.substr(36, 16), tp.parent_id)) return std::nullopt;
  const int f0 = hex_value(v[53]), f1 = hex_value(v[54]);
  if (f0 < 0 || f1 < 0) return std::nullopt;
  tp.sampled = (f1 & 1) != 0;
  return tp;
}

void format_traceparent(char (&out)[traceparent_size], const TraceId& trace, const SpanId& span, bool sampled) noexcept {
  std::size_t o = 0;
  out[o++] = '0';
  out[o++] = '0';
  out[o++] = '-';
  for (const auto b : trace) {
    out[o++] = digits[b >> 4];
    out[o++] = digits[b & 15];
  }
  out[o++] = '-';
  for (const auto b : span) {
    out[o++] = digits[b >> 4];
    out[o++] = digits[b & 15];
  }
  out[o++] = '-';
  out[o++] = '0';
  out[o++] = sampled ? '1' : '0';
}

bool sampled_by_ratio(const TraceId& trace, double ratio) noexcept {
  if (ratio >= 1.0) return true;
  if (ratio <= 0.0) return false;
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) low = (low << 8) | trace[i];
  // Compare the top 63 bits with ratio × 2^63, as OpenTelemetry's TraceIdRatioBased does.
  const auto bound = static_cast<std::uint64_t>(ratio * 9223372036854775808.0);
  return (low >> 1) < bound;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

namespace {

// The OTLP JSON is written straight into one string (no document built and torn down): this runs on the exporter
// thread for every span, and a DOM cost about 30,000 instructions a span where this costs a tenth of that.
void append_hex(std::string& out, const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
}

void append_string(std::string& out, std::string_view s) {
  out += '"';
  if (s.size() <= 128) {
    // Attribute values are short: escaped through a buffer on the stack (resizing the string for the worst case
    // would write six times the value's size first).
    char buf[core::max_json_escaped_size(128)];
    out.append(buf, core::json_escape_into(buf, s));
  } else {
    core::append_json_escaped(out, s);
  }
  out += '"';
}

template <typename Integer>
void append_integer(std::string& out, Integer v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_attribute(std::string& out, std::string_view key, const std::variant<std::string, std::int64_t>& v) {
  out += "{\"key\":";
  append_string(out, key);
  if (const auto* str = std::get_if<std::string>(&v)) {
    out += ",\"value\":{\"stringValue\":";
    append_string(out, *str);
    out += "}}";
  } else {
    out += ",\"value\":{\"intValue\":\"";  // int64 is a decimal string in OTLP's JSON
    append_integer(out, std::get<std::int64_t>(v));
    out += "\"}}";
  }
}

}  // namespace

std::string encode_otlp_json(const std::vector<SpanRecord>& spans, std::string_view service_name,
                             std::string_view service_version) {
  std::string out;
  out.reserve(256 + spans.size() * 640);
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  append_attribute(out, "service.name", std::string(service_name));
  out += ',';
  append_attribute(out, "service.version", std::string(service_version));
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"postern\",\"version\":";
  append_string(out, service_version);
  out += "},\"spans\":[";
  bool first_span = true;
  for (const auto& s : spans) {
    if (!first_span) out += ',';
    first_span = false;
    out += "{\"traceId\":\"";
    append_hex(out, s.trace_id.data(), s.trace_id.size());
    out += "\",\"spanId\":\"";
    append_hex(out, s.span_id.data(), s.span_id.size());
    out += '"';
    bool root = true;
    for (const auto b : s.parent_id) root = root && b == 0;
    if (!root) {
      out += ",\"parentSpanId\":\"";
      append_hex(out, s.parent_id.data(), s.parent_id.size());
      out += '"';
    }
    out += ",\"name\":";
    append_string(out, s.name);
    out += ",\"kind\":";
    append_integer(out, static_cast<int>(s.kind));
    out += ",\"startTimeUnixNano\":\"";
    append_integer(out, s.start_unix_ns);
    out += "\",\"endTimeUnixNano\":\"";
    append_integer(out, s.end_unix_ns);
    out += '"';
    out += ",\"attributes\":[";
    bool first_attribute = true;
    for (const auto& [k, v] : s.attributes) {
      if (!first_attribute) out += ',';
      first_attribute = false;
      append_attribute(out, k, v);
    }
    // STATUS_CODE_ERROR : STATUS_CODE_UNSET
    out += s.error ? "],\"status\":{\"code\":2}}" : "],\"status\":{\"code\":0}}";
  }
  out += "]}]}]}";
  return out;
}

}  // namespace postern::telemetry
