#include "proxy/header_rewrite.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/rfc7230.hpp>
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

// One pass over the fields, dropping hop-by-hop headers, those named in Connection and, when `drop_internal`,
// every X-Pomerium-* header and Expect. (A lookup per name would walk the field index once per rule.)
void filter_fields(Fields& fields, bool keep_upgrade, bool drop_internal) {
  std::vector<std::string> named;  // names listed in Connection: rare, so usually never allocated
  for (auto it = fields.find(http::field::connection); it != fields.end() && it->name() == http::field::connection;
       ++it) {
    for (const auto& token : http::token_list(it->value())) {
      // Options and names dropped anyway need no extra pass (the common "keep-alive", "close", "upgrade").
      if (core::iequals(token, "keep-alive") || core::iequals(token, "close") || core::iequals(token, "upgrade") ||
          core::iequals(token, "te") || core::iequals(token, "trailer"))
        continue;
      named.emplace_back(token);
    }
  }
  for (auto it = fields.begin(); it != fields.end();) {
    bool drop = is_hop_by_hop(it->name(), keep_upgrade);
    if (!drop && drop_internal) drop = it->name() == http::field::expect || is_internal(it->name_string());
    if (!drop && !named.empty()) {
      for (const auto& n : named) drop = drop || core::iequals(it->name_string(), n);
    }
    it = drop ? fields.erase(it) : std::next(it);
  }
}

}  // namespace

void strip_hop_by_hop(Fields& fields, bool keep_upgrade) { filter_fields(fields, keep_upgrade, false); }

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
  // Hop-by-hop headers go; so do Postern-internal ones (ours to set, never a client's) and Expect (100-continue is
  // answered by Postern itself).
  filter_fields(req, ctx.websocket, true);
  if (ctx.websocket) req.set(http::field::connection, "Upgrade");

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
