#include "telemetry/trace.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

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

std::string encode_otlp_json(const std::vector<SpanRecord>& spans, std::string_view service_name,
                             std::string_view service_version) {
  namespace json = boost::json;
  const auto attribute = [](std::string_view key, const std::variant<std::string, std::int64_t>& v) {
    json::object a;
    a["key"] = key;
    json::object value;
    if (const auto* s = std::get_if<std::string>(&v)) value["stringValue"] = *s;
    else value["intValue"] = std::to_string(std::get<std::int64_t>(v));  // int64 is a string in OTLP JSON
    a["value"] = std::move(value);
    return a;
  };
  json::array out_spans;
  for (const auto& s : spans) {
    json::object o;
    o["traceId"] = to_hex(s.trace_id.data(), s.trace_id.size());
    o["spanId"] = to_hex(s.span_id.data(), s.span_id.size());
    bool root = true;
    for (const auto b : s.parent_id) root = root && b == 0;
    if (!root) o["parentSpanId"] = to_hex(s.parent_id.data(), s.parent_id.size());
    o["name"] = s.name;
    o["kind"] = static_cast<int>(s.kind);
    o["startTimeUnixNano"] = std::to_string(s.start_unix_ns);
    o["endTimeUnixNano"] = std::to_string(s.end_unix_ns);
    json::array attrs;
    for (const auto& [k, v] : s.attributes) attrs.push_back(attribute(k, v));
    o["attributes"] = std::move(attrs);
    json::object status;
    status["code"] = s.error ? 2 : 0;  // STATUS_CODE_ERROR : STATUS_CODE_UNSET
    o["status"] = std::move(status);
    out_spans.push_back(std::move(o));
  }
  json::array resource_attrs;
  resource_attrs.push_back(attribute("service.name", std::string(service_name)));
  resource_attrs.push_back(attribute("service.version", std::string(service_version)));
  json::object scope_spans;
  scope_spans["scope"] = json::object{{"name", "postern"}, {"version", service_version}};
  scope_spans["spans"] = std::move(out_spans);
  json::object resource_spans;
  resource_spans["resource"] = json::object{{"attributes", std::move(resource_attrs)}};
  resource_spans["scopeSpans"] = json::array{std::move(scope_spans)};
  json::object root;
  root["resourceSpans"] = json::array{std::move(resource_spans)};
  return json::serialize(root);
}

}  // namespace postern::telemetry
