#pragma once
// Okta's Management API as the directory sync calls it: GETs on the org, authenticated with the SSWS API token or
// with a Bearer token an OAuth 2.0 service app got by client credentials (private_key_jwt at the org's
// /oauth2/v1/token, scopes okta.users.read okta.groups.read okta.logs.read; cached until a minute before it expires),
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

namespace postern::identity {
class ClientAssertionSigner;
}

namespace postern::directory {

struct ApiPage {
  unsigned status = 0;
  std::string body;                 // JSON
  std::optional<std::string> next;  // the next page's URL (on the org)
  std::string error;                // empty on success: what went wrong, without the token
  std::optional<std::chrono::system_clock::time_point> server_date;  // Okta's Date header, when it sent one
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// What walking a paged list cost and when Okta began answering it.
struct ListProgress {
  std::uint64_t calls = 0;  // pages asked for (added to, so one tally can span several lists)
  // Okta's Date on the list's first page: every change Okta stamped well before it was visible to the list.
  std::optional<std::chrono::system_clock::time_point> first_date;
};

class OktaClient;

// A run's time limit (idp_refresh_directory_timeout), not counting the waits the rate limiter imposed: a large org
// read at Okta's pace takes longer than the timeout, and waiting politely is not the run being stuck.
class RunDeadline {
 public:
  RunDeadline(const OktaClient& client, std::chrono::steady_clock::duration timeout);
  [[nodiscard]] bool passed() const;

 private:
  const OktaClient& client_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::duration timeout_;
  std::chrono::milliseconds paced_at_start_;
};

class OktaClient {
 public:
  // Throws std::runtime_error naming idp_service_account when the service app's key cannot be used.
  OktaClient(boost::asio::io_context& io, net::UpstreamPool& pool, boost::asio::ssl::context& tls, std::string org,
             const config::DirectorySettings& settings, std::chrono::milliseconds call_timeout);
  ~OktaClient();

  static constexpr const char* service_app_scopes = "okta.users.read okta.groups.read okta.logs.read";

  // GET `url` (absolute, on the org). Waits as the limiter says; retries a 429 up to RateLimiter::max_retries times.
  [[nodiscard]] net::Task<ApiPage> get(std::string url);

  // Every object of a paged list, from `url` through each rel="next", handed to `each`. Returns "" or what went wrong
  // (`what` names the list in that sentence). Stops past `deadline` (when given); `progress`, when given, counts the
  // pages asked for and records the first page's Date.
  [[nodiscard]] net::Task<std::string> each_object(std::string url, std::string_view what,
                                                   const std::function<void(const boost::json::object&)>& each,
                                                   const RunDeadline* deadline = nullptr,
                                                   ListProgress* progress = nullptr);

  [[nodiscard]] const std::string& org() const noexcept { return org_; }
  // Which credential calls Okta, in words for log lines.
  [[nodiscard]] std::string_view credential() const noexcept;
  [[nodiscard]] std::uint64_t tokens_fetched() const noexcept { return tokens_fetched_; }
  [[nodiscard]] std::uint64_t calls() const noexcept { return calls_; }
  [[nodiscard]] std::uint64_t throttled() const noexcept { return throttled_; }
  // Time spent waiting as the rate limiter said (pacing and 429s).
  [[nodiscard]] std::chrono::milliseconds paced() const noexcept { return paced_; }

 private:
  net::Task<void> sleep(std::chrono::milliseconds d);
  // The Authorization header value; "" with `error` set when the service app could not get a token.
  net::Task<std::string> authorization(std::string& error);
  net::Task<std::string> fetch_token();  // error sentence, or "" with token_ set

  boost::asio::io_context& io_;
  net::UpstreamPool& pool_;
  boost::asio::ssl::context& tls_;
  std::string org_;
  std::string authorization_;  // "SSWS <token>" (API token)
  // OAuth 2.0 service app
  std::string client_id_;
  std::unique_ptr<identity::ClientAssertionSigner> signer_;
  std::string bearer_;  // "Bearer <access token>", empty when none is held
  std::chrono::steady_clock::time_point bearer_expires_{};
  std::uint64_t tokens_fetched_ = 0;
  std::shared_ptr<net::Timer> token_wait_;  // set while a token request is out; the others wait on it
  std::chrono::milliseconds call_timeout_;
  RateLimiter limiter_;
  std::uint64_t calls_ = 0;
  std::uint64_t throttled_ = 0;
  std::chrono::milliseconds paced_{0};
};

// A string member of an Okta object's `profile` ("name" of a group, "email" of a user), or "".
[[nodiscard]] std::string profile_string(const boost::json::object& o, std::string_view key);

}  // namespace postern::directory
