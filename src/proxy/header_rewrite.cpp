#include "proxy/header_rewrite.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <vector>

#include "core/strings.h"

namespace postern::proxy {
namespace http = boost::beast::http;

void strip_hop_by_hop(Fields& fields, bool keep_upgrade) {
  // Names listed in Connection go first (they are hop-by-hop by declaration).
  std::vector<std::string> named;
  for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
       ++it) {
    for (const auto& token : http::token_list(it->value())) {
      if (keep_upgrade && core::iequals(token, "upgrade")) continue;
      named.emplace_back(token);
    }
  }
  for (const auto& name : named) fields.erase(name);
  fields.erase(http::field::connection);
  fields.erase(http::field::keep_alive);
  fields.erase(http::field::proxy_connection);
  fields.erase(http::field::te);
  fields.erase(http::field::trailer);
  fields.erase(http::field::transfer_encoding);
  if (!keep_upgrade) fields.erase(http::field::upgrade);
}

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

void prepare_upstream_request(RequestHeader& req, const config::Settings& settings, const config::CompiledRoute& route,
                              const config::UpstreamTarget& target, const ForwardContext& ctx) {
  strip_hop_by_hop(req, ctx.websocket);
  if (ctx.websocket) req.set(http::field::connection, "Upgrade");
  req.erase(http::field::expect);  // 100-continue is answered by Postern itself

  // Postern-internal headers are ours to set; a client must not be able to inject them.
  std::vector<std::string> internal;
  for (const auto& f : req) {
    const auto name = f.name_string();
    if (name.size() >= 11 && core::iequals(name.substr(0, 11), "x-pomerium-")) internal.emplace_back(name);
  }
  for (const auto& name : internal) req.erase(name);

  if (!settings.skip_xff_append) {
    const auto existing = req["X-Forwarded-For"];
    if (existing.empty()) {
      req.set("X-Forwarded-For", ctx.peer_ip);
    } else {
      std::string joined(existing);
      joined += ", ";
      joined += ctx.peer_ip;
      req.set("X-Forwarded-For", joined);
    }
  }
  if (settings.xff_num_trusted_hops == 0) {
    // Nothing in front of us is trusted: these describe the connection we accepted.
    req.set("X-Forwarded-Proto", ctx.scheme);
    req.set("X-Forwarded-Host", ctx.original_host);
  } else {
    if (req["X-Forwarded-Proto"].empty()) req.set("X-Forwarded-Proto", ctx.scheme);
    const auto existing = req["X-Forwarded-Host"];
    req.set("X-Forwarded-Host",
            existing.empty() ? std::string(ctx.original_host) : std::string(existing) + ", " + std::string(ctx.original_host));
  }
  req.set("X-Request-Id", ctx.request_id);

  const auto& rs = route.settings();
  if (!rs.preserve_host_header) {
    req.set(http::field::host, rs.host_rewrite.empty() ? target.authority() : rs.host_rewrite);
  }
  for (const auto& name : rs.remove_request_headers) req.erase(name);
  for (const auto& [name, value] : rs.set_request_headers) req.set(name, value);
  req.target(ctx.upstream_path);
}

void add_local_response_headers(ResponseHeader& res, const config::Settings& settings, std::string_view request_id) {
  for (const auto& [name, value] : settings.set_response_headers) res.set(name, value);
  res.set("X-Request-Id", request_id);
}

void prepare_downstream_response(ResponseHeader& res, const config::Settings& settings,
                                 const config::CompiledRoute* route, std::string_view request_id) {
  const bool upgrade = res.result() == http::status::switching_protocols;
  strip_hop_by_hop(res, upgrade);
  if (upgrade) res.set(http::field::connection, "Upgrade");
  add_local_response_headers(res, settings, request_id);
  if (route) {
    for (const auto& [name, value] : route->settings().set_response_headers) res.set(name, value);
  }
}

}  // namespace postern::proxy
