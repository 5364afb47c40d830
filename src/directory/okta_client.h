#pragma once
// Okta's Management API as the directory sync calls it: GETs on the org, authenticated with the SSWS API token,
// paced by one RateLimiter (reserve for the org's other clients, 429 waits by Okta's clock, bounded retries), with
// the next page's URL taken from the Link header. Runs on the directory's own io_context, never on a worker.
// 401/403 are not retried: the caller logs them once, in words an operator can act on.
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
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

  // Every object of a paged list, from `url` through each rel="next", handed to `each`. Returns "" or what went wrong
  // (`what` names the list in that sentence). Stops past `deadline`; `calls`, when given, counts the pages asked for.
  [[nodiscard]] net::Task<std::string> each_object(std::string url, std::string_view what,
                                                   const std::function<void(const boost::json::object&)>& each,
                                                   std::chrono::steady_clock::time_point deadline =
                                                       std::chrono::steady_clock::time_point::max(),
                                                   std::uint64_t* calls = nullptr);

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

// A string member of an Okta object's `profile` ("name" of a group, "email" of a user), or "".
[[nodiscard]] std::string profile_string(const boost::json::object& o, std::string_view key);

}  // namespace postern::directory
