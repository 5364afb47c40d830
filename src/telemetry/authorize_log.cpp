#include "telemetry/authorize_log.h"

#include "telemetry/line_writer.h"

namespace postern::telemetry {

std::uint32_t authorize_fields(const std::vector<std::string>& names) noexcept {
  std::uint32_t bits = 0;
  for (const auto& n : names) {
    if (n == "request-id" || n == "check-request-id") bits |= field_request_id;
    else if (n == "method") bits |= field_method;
    else if (n == "path") bits |= field_path;
    else if (n == "host") bits |= field_host;
    else if (n == "ip") bits |= field_ip;
    else if (n == "user") bits |= field_user;
    else if (n == "email") bits |= field_email;
    else if (n == "groups-count") bits |= field_groups_count;
    else if (n == "route-id") bits |= field_route_id;
  }
  return bits;
}

std::size_t authorize_line_bound(const AuthorizeRecord& r) noexcept {
  std::size_t text = r.request_id.size() + r.method.size() + r.path.size() + r.host.size() + r.ip.size() +
                     r.user.size() + r.email.size() + r.route.size() + r.decision.size() + r.allow.size() +
                     r.deny.size() + r.mode.size();
  std::size_t fixed = 512;
  for (const auto& reason : r.reasons) {
    fixed += 4;
    for (const auto piece : reason) fixed += piece.size();  // copied as they are (already escaped)
  }
  return fixed + core::max_json_escaped_size(text);
}

std::size_t format_authorize_line(const AuthorizeRecord& r, char* out) noexcept {
  LineWriter w(out);
  w.literal("{\"time\":\"");
  write_time(w);
  w.literal("\",\"level\":\"info\",\"msg\":\"authorize check\"");
  // `clean`: a value that cannot hold a character JSON escapes (an HTTP token, a validated host), copied as it is.
  auto field = [&]<std::size_t N>(std::uint32_t bit, const char(&name)[N], std::string_view value, bool clean = false) {
    if (!(r.fields & bit)) return;
    w.literal(name);
    if (clean) w.raw(value.data(), value.size());
    else w.string(value);
    w.ch('"');
  };
  field(field_request_id, ",\"request-id\":\"", r.request_id);
  field(field_method, ",\"method\":\"", r.method, true);
  field(field_path, ",\"path\":\"", r.path);
  field(field_host, ",\"host\":\"", r.host, true);
  field(field_ip, ",\"ip\":\"", r.ip);
  field(field_user, ",\"user\":\"", r.user);
  field(field_email, ",\"email\":\"", r.email);
  if (r.fields & field_groups_count) {
    w.literal(",\"groups-count\":");
    w.number(r.groups_count);
  }
  field(field_route_id, ",\"route-id\":\"", r.route);
  // Postern's own words: nothing to escape.
  w.literal(",\"decision\":\"");
  w.raw(r.decision.data(), r.decision.size());
  w.literal("\",\"allow\":\"");
  w.raw(r.allow.data(), r.allow.size());
  w.literal("\",\"deny\":\"");
  w.raw(r.deny.data(), r.deny.size());
  w.literal("\",\"mode\":\"");
  w.raw(r.mode.data(), r.mode.size());
  w.literal("\",\"reasons\":[");
  bool first = true;
  for (const auto& reason : r.reasons) {
    if (!first) w.ch(',');
    first = false;
    w.ch('"');
    for (const auto piece : reason) w.raw(piece.data(), piece.size());
    w.ch('"');
  }
  w.literal("]}\n");
  return w.size();
}

std::string format_authorize_line(const AuthorizeRecord& r) {
  std::string line(authorize_line_bound(r), '\0');
  line.resize(format_authorize_line(r, line.data()));
  return line;
}

}  // namespace postern::telemetry
