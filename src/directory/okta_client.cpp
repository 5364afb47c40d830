#include "directory/okta_client.h"

#include <boost/json/parse.hpp>

#include <vector>

#include "core/json.h"
#include "core/strings.h"
#include "core/url.h"
#include "directory/okta_api.h"
#include "identity/client_assertion.h"
#include "net/http_fetch.h"

namespace postern::directory {

OktaClient::OktaClient(boost::asio::io_context& io, net::UpstreamPool& pool, boost::asio::ssl::context& tls,
                       std::string org, const config::DirectorySettings& settings,
                       std::chrono::milliseconds call_timeout)
    : io_(io), pool_(pool), tls_(tls), org_(std::move(org)), call_timeout_(call_timeout),
      limiter_(settings.rate_limit_reserve) {
  if (settings.credential == config::DirectorySettings::Credential::oauth_app) {
    auto loaded = identity::ClientAssertionSigner::load(settings.private_key, settings.key_id);
    if (auto* e = std::get_if<std::string>(&loaded)) throw std::runtime_error("idp_service_account: " + *e);
    signer_ = std::move(std::get<0>(loaded));
    client_id_ = settings.client_id;
  } else {
    authorization_ = "SSWS " + settings.api_key;
  }
}

OktaClient::~OktaClient() = default;

std::string_view OktaClient::credential() const noexcept {
  return signer_ ? "idp_service_account (OAuth service app)" : "idp_service_account (Okta API token)";
}

net::Task<std::string> OktaClient::fetch_token() {
  const std::string endpoint = org_ + "/oauth2/v1/token";
  const std::string_view bucket = rate_limit_bucket("/oauth2/v1/token");
  for (int attempt = 0;; ++attempt) {
    co_await sleep(limiter_.wait_before(bucket, std::chrono::system_clock::now()));
    net::FetchRequest req;
    req.method = "POST";
    req.url = endpoint;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    req.body = "grant_type=client_credentials&scope=" + core::form_encode(service_app_scopes) +
               "&client_assertion_type=" + core::form_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
               "&client_assertion=" + signer_->assertion(client_id_, endpoint, std::chrono::system_clock::now());
    req.timeout = call_timeout_;
    req.max_body = 64 * 1024;
    ++calls_;
    const auto sent = std::chrono::steady_clock::now();
    auto res = co_await net::fetch(pool_, tls_, std::move(req));
    if (!res.ok()) co_return "calling /oauth2/v1/token failed: " + res.failure;
    const auto wait = limiter_.record(bucket, RateHeaders::of(res), std::chrono::system_clock::now());
    if (res.status == 429 && attempt < RateLimiter::max_retries) {
      ++throttled_;
      co_await sleep(wait.value_or(std::chrono::milliseconds(1000)));
      continue;
    }
    boost::system::error_code ec;
    const auto v = boost::json::parse(res.body, ec);
    const auto* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    if (res.status != 200 || !o) {
      // OAuth's error and error_description say what Okta disliked (an unknown key id, a missing scope grant, a
      // DPoP requirement); they never carry a secret.
      std::string said = o ? core::json_string(*o, "error") : std::string();
      if (o && !core::json_string(*o, "error_description").empty())
        said += ": " + core::json_string(*o, "error_description");
      co_return "the service app " + client_id_ + " got no token (HTTP " + std::to_string(res.status) +
          (said.empty() ? ")" : ", " + said + ")");
    }
    const auto token = core::json_string(*o, "access_token");
    if (token.empty() || !core::iequals(core::json_string(*o, "token_type"), "Bearer"))
      co_return "the service app " + client_id_ + " got an answer without a Bearer access_token";
    std::int64_t expires_in = 3600;
    if (const auto* e = o->if_contains("expires_in"); e && e->is_int64()) expires_in = e->as_int64();
    // Kept until a minute before it expires (at least half its life), so no call carries a token about to lapse.
    const auto life = std::chrono::seconds(std::max<std::int64_t>(expires_in, 0));
    bearer_ = "Bearer " + token;
    bearer_expires_ = sent + std::max(life - std::chrono::seconds(60), life / 2);
    ++tokens_fetched_;
    co_return std::string();
  }
}

net::Task<std::string> OktaClient::authorization(std::string& error) {
  if (!signer_) co_return authorization_;
  // One token request at a time: the sync and the System Log watcher start together and must not both ask.
  while (token_wait_) {
    const auto wait = token_wait_;
    co_await wait->async_wait(net::nothrow);
  }
  if (bearer_.empty() || std::chrono::steady_clock::now() >= bearer_expires_) {
    bearer_.clear();
    token_wait_ = std::make_shared<net::Timer>(io_, net::Timer::time_point::max());
    error = co_await fetch_token();
    token_wait_->cancel();
    token_wait_.reset();
    if (!error.empty()) co_return std::string();
  }
  co_return bearer_;
}

RunDeadline::RunDeadline(const OktaClient& client, std::chrono::steady_clock::duration timeout)
    : client_(client), start_(std::chrono::steady_clock::now()), timeout_(timeout), paced_at_start_(client.paced()) {}

bool RunDeadline::passed() const {
  return std::chrono::steady_clock::now() - start_ - (client_.paced() - paced_at_start_) > timeout_;
}

net::Task<void> OktaClient::sleep(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  paced_ += d;
  net::Timer t(io_.get_executor(), d);
  co_await t.async_wait(net::nothrow);
}

std::string profile_string(const boost::json::object& o, std::string_view key) {
  const auto* p = o.if_contains("profile");
  if (!p || !p->is_object()) return {};
  return core::json_string(p->as_object(), key);
}

net::Task<std::string> OktaClient::each_object(std::string url, std::string_view what,
                                              const std::function<void(const boost::json::object&)>& each,
                                              const RunDeadline* deadline, ListProgress* progress) {
  std::optional<std::string> next = std::move(url);
  for (bool first = true; next; first = false) {
    if (deadline && deadline->passed()) co_return "the sync ran past idp_refresh_directory_timeout";
    if (progress) ++progress->calls;
    auto page = co_await get(*next);
    if (!page.ok()) co_return page.error;
    if (first && progress) progress->first_date = page.server_date;
    boost::system::error_code ec;
    const auto v = boost::json::parse(page.body, ec);
    if (ec || !v.is_array()) co_return std::string(what) + " is not a JSON array";
    for (const auto& item : v.as_array())
      if (item.is_object()) each(item.as_object());
    next = std::move(page.next);
  }
  co_return std::string();
}

net::Task<ApiPage> OktaClient::get(std::string url) {
  ApiPage page;
  const auto u = core::parse_http_url(url);
  if (!u || u->origin() != org_) {
    page.error = "refused to call a URL off the Okta org";
    co_return page;
  }
  const std::string_view bucket = rate_limit_bucket(u->rest);
  bool retried_token = false;
  for (int attempt = 0;; ++attempt) {
    co_await sleep(limiter_.wait_before(bucket, std::chrono::system_clock::now()));
    std::string auth_error;
    std::string auth = co_await authorization(auth_error);
    if (auth.empty()) {
      page.error = std::move(auth_error);
      co_return page;
    }
    net::FetchRequest req;
    req.url = url;
    req.headers = {{"Authorization", std::move(auth)}, {"Accept", "application/json"}};
    req.timeout = call_timeout_;
    req.max_body = 16 * 1024 * 1024;  // a page of 200 users with large profiles stays far below this
    ++calls_;
    auto res = co_await net::fetch(pool_, tls_, std::move(req));
    if (!res.ok()) {
      page.error = "calling " + std::string(bucket) + " failed: " + res.failure;
      co_return page;
    }
    const auto rate = RateHeaders::of(res);
    const auto wait = limiter_.record(bucket, rate, std::chrono::system_clock::now());
    page.status = res.status;
    page.server_date = rate.server_date;
    if (res.status == 429) {
      ++throttled_;
      if (attempt >= RateLimiter::max_retries) {
        page.error = "Okta kept answering 429 (rate limit) for " + std::string(bucket);
        co_return page;
      }
      co_await sleep(wait.value_or(std::chrono::milliseconds(1000)));
      continue;
    }
    if (res.status == 401 && signer_ && !retried_token) {
      bearer_.clear();  // revoked or expired early: one new token, then the answer stands
      retried_token = true;
      continue;
    }
    if (res.status != 200) {
      // Okta's error body names the problem (errorCode, errorSummary); it never echoes the token.
      std::string what;
      boost::system::error_code ec;
      const auto v = boost::json::parse(res.body, ec);
      if (!ec && v.is_object())
        what = core::json_string(v.as_object(), "errorCode") + " " + core::json_string(v.as_object(), "errorSummary");
      page.error = "Okta answered HTTP " + std::to_string(res.status) + " for " + std::string(bucket) +
                   (what.size() > 1 ? " (" + what + ")" : "");
      co_return page;
    }
    std::vector<std::string_view> links;
    for (const auto& [name, value] : res.headers)
      if (core::iequals(name, "Link")) links.push_back(value);
    page.next = next_link(links, org_);
    page.body = std::move(res.body);
    co_return page;
  }
}

}  // namespace postern::directory
