#include "proxy/header_rewrite.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <span>
#include <vector>

#include "core/strings.h"

namespace postern::proxy {
namespace http = boost::beast::http;

namespace {

bool is_hop_by_hop(http::field f, bool keep_upgrade) noexcept {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding: return true;
    case http::field::upgrade: return !keep_upgrade;
    default: return false;
  }
}

bool is_internal(std::string_view name) noexcept {
  return name.size() >= 11 && core::iequals(name.substr(0, 11), "x-pomerium-");
}

}  // namespace

bool acceptable_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string effective_client_ip(std::string_view xff, std::string_view peer, std::uint32_t trusted_hops) {
  if (trusted_hops == 0 || xff.empty()) return std::string(peer);
  const auto entries = core::split_trimmed(xff, ',');
  if (entries.size() < trusted_hops) return std::string(peer);
  const std::string& candidate = entries[entries.size() - trusted_hops];
  boost::system::error_code ec;
  boost::asio::ip::make_address(candidate, ec);
  return ec ? std::string(peer) : candidate;
}

namespace {

// Whether a token of Connection names a header to drop before forwarding. Options dropped anyway need no second
// pass; framing and routing headers are never dropped on a Connection token's say-so: a message listing
// Content-Length there would otherwise go on with its body unframed (request smuggling, response desync).
bool drops_named_header(std::string_view token) noexcept {
  static constexpr std::string_view kept[] = {"keep-alive",     "close", "upgrade", "te", "trailer", "content-length",
                                              "transfer-encoding", "host"};
  for (const auto k : kept)
    if (core::iequals(token, k)) return false;
  return true;
}

// Adds the header names one Connection value lists for dropping, as views into the value. Usually none, so usually
// no allocation.
void collect_connection_named(std::string_view value, std::vector<std::string_view>& named) {
  for (const auto& token : http::token_list(value))
    if (drops_named_header(token)) named.emplace_back(token.data(), token.size());
}

// The header name of a list entry: the entry itself, or the first of a (name, value) pair.
std::string_view header_name(std::string_view name) noexcept { return name; }
template <class Value>
std::string_view header_name(const std::pair<std::string, Value>& header) noexcept { return header.first; }
std::string_view header_name(const HeaderView& header) noexcept { return header.first; }

// Whether `name` is one of `names` (any list of names or of headers), ignoring ASCII case.
template <class Names>
bool named_in(std::string_view name, const Names& names) noexcept {
  for (const auto& n : names)
    if (core::iequals(name, header_name(n))) return true;
  return false;
}

// Beast keeps each field as one contiguous "Name: value\r\n" line (its own serializer writes it as it is).
void append_field_line(const Fields::value_type& f, HeadBuffer& out) {
  const char* begin = f.name_string().data();
  const auto value = f.value();
  out += std::string_view(begin, static_cast<std::size_t>(value.data() + value.size() + 2 - begin));
}

using core::has_control_characters;
using core::is_control;

// "Name: " then the value pieces, then CRLF.
void append_header(HeadBuffer& out, std::string_view name, std::initializer_list<std::string_view> value) {
  out += name;
  out += ": ";
  for (const auto piece : value) out += piece;
  out += "\r\n";
}

}  // namespace

void append_template_value(HeadBuffer& out, std::string_view value, const ForwardContext& ctx) {
  auto join = [&](std::span<const std::string> list) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i) out += ",";
      if (!has_control_characters(list[i])) out += list[i];
    }
  };
  std::size_t i = 0;
  while (i < value.size()) {
    const std::size_t dollar = value.find('$', i);
    if (dollar == std::string_view::npos) {
      out += value.substr(i);
      break;
    }
    out += value.substr(i, dollar - i);
    if (value.substr(dollar).starts_with("$$")) {
      out += "$";
      i = dollar + 2;
      continue;
    }
    if (!value.substr(dollar).starts_with("${")) {
      out += "$";
      i = dollar + 1;
      continue;
    }
    const std::size_t close = value.find('}', dollar);
    if (close == std::string_view::npos) {
      out += value.substr(dollar);
      break;
    }
    const std::string_view name = value.substr(dollar + 2, close - dollar - 2);
    namespace tpl = config::header_template;
    if (name == tpl::client_cert_fingerprint) out += ctx.client_cert_fingerprint;
    else if (name == tpl::client_cert_san_dns) join(ctx.client_cert_san_dns);
    else if (name == tpl::client_cert_san_email) join(ctx.client_cert_san_email);
    i = close + 1;
  }
}

namespace {

void append_status_line(unsigned code, std::string_view reason, HeadBuffer& out) {
  out += "HTTP/1.1 ";
  out += static_cast<char>('0' + code / 100 % 10);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  if (reason.empty()) out += http::obsolete_reason(http::int_to_status(code));
  else out += reason;
  out += "\r\n";
}

}  // namespace

void write_upstream_request_head(const RequestHeader& req, const config::Settings& settings,
                                 const config::CompiledRoute& route, const config::UpstreamTarget& target,
                                 const ForwardContext& ctx, std::span<const HeaderView> identity, HeadBuffer& out) {
  const auto& rs = route.settings();
  std::vector<std::string_view> named;
  for (auto it = req.find(http::field::connection); it != req.end() && it->name() == http::field::connection; ++it)
    collect_connection_named(it->value(), named);
  const bool trusted = settings.xff_num_trusted_hops > 0;
  std::string_view client_xff, client_xfh;  // the first of each
  bool have_xff = false, have_xfh = false;
  // Behind trusted proxies a client's X-Forwarded-Proto stands (a rare setting: the lookup is only made then).
  const bool keep_client_xfp = trusted && !req["X-Forwarded-Proto"].empty();

  out += req.method_string();
  out += ' ';
  out += ctx.upstream_path;
  out += " HTTP/1.1\r\n";

  // A header Postern adds: the route may remove it, its set_request_headers and the identity headers replace it.
  const auto replaced = [&](std::string_view name) {
    return named_in(name, rs.remove_request_headers) || named_in(name, rs.set_request_headers) ||
           named_in(name, identity);
  };
  if (!rs.preserve_host_header && !replaced("Host")) {
    out += "Host: ";
    if (!rs.host_rewrite.empty()) out += rs.host_rewrite;
    else if (!target.host_header.empty()) out += target.host_header;
    else out += target.authority();
    out += "\r\n";
  }

  // The client's fields, in order, less what is dropped or replaced. One pass; no field is looked up by name.
  for (const auto& f : req) {
    const auto name = f.name_string();
    if (!named.empty() && named_in(name, named)) continue;
    // Expect too: 100-continue is answered by Postern itself.
    if (is_hop_by_hop(f.name(), ctx.websocket) || f.name() == http::field::expect) continue;
    switch (f.name()) {
      case http::field::host:
        if (!rs.preserve_host_header) continue;
        break;
      default:
        if (core::iequals(name, "X-Forwarded-For")) {
          if (!have_xff) client_xff = f.value();
          have_xff = true;
          if (!settings.skip_xff_append) continue;
        } else if (core::iequals(name, "X-Forwarded-Proto")) {
          if (!keep_client_xfp) continue;
        } else if (core::iequals(name, "X-Forwarded-Host")) {
          if (!have_xfh) client_xfh = f.value();
          have_xfh = true;
          continue;
        } else if (core::iequals(name, "X-Request-Id") || is_internal(name)) {
          continue;  // X-Pomerium-* are Postern's to set, never a client's
        } else if (!ctx.traceparent.empty() && core::iequals(name, "traceparent")) {
          continue;  // tracing: ours (same trace, Postern's span as the parent) replaces it
        }
        break;
    }
    if (replaced(name)) continue;
    append_field_line(f, out);
  }

  if (ctx.websocket) out += "Connection: Upgrade\r\n";
  if (!settings.skip_xff_append && !replaced("X-Forwarded-For")) {
    if (client_xff.empty()) append_header(out, "X-Forwarded-For", {ctx.peer_ip});
    else append_header(out, "X-Forwarded-For", {client_xff, ", ", ctx.peer_ip});
  }
  // With nothing in front of us trusted, these describe the connection we accepted.
  if (!keep_client_xfp && !replaced("X-Forwarded-Proto")) append_header(out, "X-Forwarded-Proto", {ctx.scheme});
  // Only when the Host header is rewritten (as Pomerium's Envoy does): with preserve_host_header the upstream sees the
  // original Host itself, and a trusted proxy's X-Forwarded-Host goes on unchanged.
  if (!replaced("X-Forwarded-Host")) {
    if (rs.preserve_host_header) {
      if (trusted && !client_xfh.empty()) append_header(out, "X-Forwarded-Host", {client_xfh});
    } else if (!trusted || client_xfh.empty()) {
      append_header(out, "X-Forwarded-Host", {ctx.original_host});
    } else {
      append_header(out, "X-Forwarded-Host", {client_xfh, ", ", ctx.original_host});
    }
  }
  if (!replaced("X-Request-Id")) append_header(out, "X-Request-Id", {ctx.request_id});
  if (!ctx.traceparent.empty()) append_header(out, "traceparent", {ctx.traceparent});
  for (const auto& [name, value] : rs.set_request_headers) {
    if (named_in(name, identity)) continue;
    if (value.find('$') == std::string::npos) {
      append_header(out, name, {value});
      continue;
    }
    out += name;
    out += ": ";
    append_template_value(out, value, ctx);
    out += "\r\n";
  }
  for (const auto& [name, value] : identity) {
    // Claim values come from the identity provider, where a user may be able to edit their own name: a line break
    // in one would start a header of the user's choosing. Control characters become spaces.
    out += name;
    out += ": ";
    if (!has_control_characters(value)) {
      out += value;
    } else {
      for (const char ch : value) out += is_control(static_cast<unsigned char>(ch)) ? ' ' : ch;
    }
    out += "\r\n";
  }
  if (ctx.chunked) out += "Transfer-Encoding: chunked\r\n";
  out += "\r\n";
}

void add_local_response_headers(ResponseHeader& res, const config::Settings& settings, std::string_view request_id) {
  for (const auto& [name, value] : settings.set_response_headers) res.set(name, value);
  res.set("X-Request-Id", request_id);
}

namespace {

// The response fields a client receives, in order, each passed to `emit(name, value)`: the upstream's minus hop-by-hop
// headers and those named in Connection (Upgrade kept for a 101), minus those Postern sets; then the global
// set_response_headers, X-Request-Id and the route's set_response_headers, each replacing any earlier one of its name.
template <class Emit>
void emit_downstream_response_fields(const UpstreamResponse& res, const config::Settings& settings,
                                     const config::CompiledRoute* route, std::string_view request_id, Emit&& emit) {
  static const config::HeaderList no_headers;
  const auto& route_headers = route ? route->settings().set_response_headers : no_headers;
  const bool upgrade = res.result_int() == 101;
  // Names listed in Connection (other than the options dropped anyway): rare, so usually nothing is allocated.
  std::vector<std::string_view> named;
  for (const auto& f : res.fields())
    if (f.name == http::field::connection) collect_connection_named(f.value, named);
  for (const auto& f : res.fields()) {
    if (is_hop_by_hop(f.name, upgrade)) continue;
    if ((!named.empty() && named_in(f.name_string, named)) || core::iequals(f.name_string, "X-Request-Id") ||
        named_in(f.name_string, settings.set_response_headers) || named_in(f.name_string, route_headers))
      continue;
    emit(f.name_string, f.value);
  }
  for (const auto& [name, value] : settings.set_response_headers)
    if (!core::iequals(name, "X-Request-Id") && !named_in(name, route_headers)) emit(name, value);
  if (!named_in("X-Request-Id", route_headers)) emit("X-Request-Id", request_id);
  for (const auto& [name, value] : route_headers) emit(name, value);
}

}  // namespace

void write_downstream_response_head(const UpstreamResponse& res, const DownstreamFraming& framing,
                                    const config::Settings& settings, const config::CompiledRoute* route,
                                    std::string_view request_id, HeadBuffer& out) {
  append_status_line(res.result_int(), res.reason(), out);
  emit_downstream_response_fields(res, settings, route, request_id,
                                  [&out](std::string_view name, std::string_view value) {
                                    append_header(out, name, {value});
                                  });
  if (res.result_int() == 101) out += "Connection: Upgrade\r\n";
  else if (!framing.keep_alive) out += "Connection: close\r\n";
  if (framing.chunked) out += "Transfer-Encoding: chunked\r\n";
  out += "\r\n";
}

void downstream_response_fields(const UpstreamResponse& res, const config::Settings& settings,
                                const config::CompiledRoute* route, std::string_view request_id,
                                std::vector<http2::Field>& out) {
  out.reserve(res.fields().size() + settings.set_response_headers.size() + 1);
  emit_downstream_response_fields(res, settings, route, request_id,
                                  [&out](std::string_view name, std::string_view value) {
                                    out.push_back(http2::Field{core::to_lower(name), std::string(value)});
                                  });
}

}  // namespace postern::proxy
