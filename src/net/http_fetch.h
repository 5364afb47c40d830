#pragma once
// Outbound HTTP/1.1 requests from Postern itself (the IdP's discovery, keys, token, userinfo and revocation
// endpoints): one connection per call, a deadline over the whole call, a cap on the response body. Never throws.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "net/asio_types.h"
#include "net/upstream_pool.h"

namespace postern::net {

struct FetchRequest {
  std::string method = "GET";
  std::string url;  // absolute http(s) URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_body = 1024 * 1024;
};

struct FetchResponse {
  unsigned status = 0;  // 0 when no response arrived
  std::string content_type;
  std::string body;
  // Every response header in the order received (names as sent); bounded by the 64 KiB header limit.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string failure;  // empty on success: "invalid URL", "connect", "timeout", "tls", "invalid response", ...
  [[nodiscard]] bool ok() const noexcept { return failure.empty(); }
  // The first value of header `name` (case-insensitive), or "" when absent.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

// `tls` verifies https URLs (system roots); a plain-http URL ignores it.
[[nodiscard]] Task<FetchResponse> fetch(UpstreamPool& pool, boost::asio::ssl::context& tls, FetchRequest request);

}  // namespace postern::net
