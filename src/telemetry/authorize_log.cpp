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
    for (const auto piece : reason) text += piece.size();
  }
  return fixed + core::max_json_escaped_size(text);
}

std::size_t format_authorize_line(const AuthorizeRecord& r, char* out) noexcept {
  LineWriter w(out);
  w.literal("{\"time\":\"");
  write_time(w);
  w.literal("\",\"level\":\"info\",\"msg\":\"authorize check\"");
  auto field = [&]<std::size_t N>(std::uint32_t bit, const char(&name)[N], std::string_view value) {
    if (!(r.fields & bit)) return;
    w.literal(name);
    w.string(value);
    w.ch('"');
  };
  field(field_request_id, ",\"request-id\":\"", r.request_id);
  field(field_method, ",\"method\":\"", r.method);
  field(field_path, ",\"path\":\"", r.path);
  field(field_host, ",\"host\":\"", r.host);
  field(field_ip, ",\"ip\":\"", r.ip);
  field(field_user, ",\"user\":\"", r.user);
  field(field_email, ",\"email\":\"", r.email);
  if (r.fields & field_groups_count) {
    w.literal(",\"groups-count\":");
    w.number(r.groups_count);
  }
  field(field_route_id, ",\"route-id\":\"", r.route);
  w.literal(",\"decision\":\"");
  w.string(r.decision);
  w.literal("\",\"allow\":\"");
  w.string(r.allow);
  w.literal("\",\"deny\":\"");
  w.string(r.deny);
  w.literal("\",\"mode\":\"");
  w.string(r.mode);
  w.literal("\",\"reasons\":[");
  bool first = true;
  for (const auto& reason : r.reasons) {
    if (!first) w.ch(',');
    first = false;
    w.ch('"');
    for (const auto piece : reason) w.string(piece);
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
