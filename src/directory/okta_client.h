#pragma once
// Okta's Management API as the directory sync calls it: GETs on the org, authenticated with the SSWS API token,
// paced by one RateLimiter (reserve for the org's other clients, 429 waits by Okta's clock, bounded retries), with
// the next page's URL taken from the Link header. Runs on the directory's own io_context, never on a worker.
// 401/403 are not retried: the caller logs them once, in words an operator can act on.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/settings.h"
#include "directory/rate_limiter.h"
#include "net/asio_types.h"
#include "net/upstream_pool.h"

namespace postern::directory {

struct ApiPage {
  unsigned status = 0;
  std::string body;                 // JSON
  std::optional<std::string> next;  // the next page's URL (on the org)
  std::string error;                // empty on success: what went wrong, without the token
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

class OktaClient {
 public:
  OktaClient(boost::asio::io_context& io, net::UpstreamPool& pool, boost::asio::ssl::context& tls, std::string org,
             std::string api_token, std::chrono::milliseconds call_timeout);

  // GET `url` (absolute, on the org). Waits as the limiter says; retries a 429 up to RateLimiter::max_retries times.
  [[nodiscard]] net::Task<ApiPage> get(std::string url);

  [[nodiscard]] const std::string& org() const noexcept { return org_; }
  [[nodiscard]] std::uint64_t calls() const noexcept { return calls_; }
  [[nodiscard]] std::uint64_t throttled() const noexcept { return throttled_; }

 private:
  net::Task<void> sleep(std::chrono::milliseconds d);

  boost::asio::io_context& io_;
  net::UpstreamPool& pool_;
  boost::asio::ssl::context& tls_;
  std::string org_;
  std::string authorization_;  // "SSWS <token>"
  std::chrono::milliseconds call_timeout_;
  RateLimiter limiter_;
  std::uint64_t calls_ = 0;
  std::uint64_t throttled_ = 0;
};

}  // namespace postern::directory
