#include "directory/okta_client.h"

#include <boost/json/parse.hpp>

#include <vector>

#include "core/json.h"
#include "core/strings.h"
#include "core/url.h"
#include "directory/okta_api.h"
#include "net/http_fetch.h"

namespace postern::directory {

OktaClient::OktaClient(boost::asio::io_context& io, net::UpstreamPool& pool, boost::asio::ssl::context& tls,
                       std::string org, std::string api_token, std::chrono::milliseconds call_timeout)
    : io_(io), pool_(pool), tls_(tls), org_(std::move(org)), authorization_("SSWS " + std::move(api_token)),
      call_timeout_(call_timeout) {}

net::Task<void> OktaClient::sleep(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
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
                                              std::chrono::steady_clock::time_point deadline, std::uint64_t* calls) {
  std::optional<std::string> next = std::move(url);
  while (next) {
    if (std::chrono::steady_clock::now() > deadline) co_return "the sync ran past idp_refresh_directory_timeout";
    if (calls) ++*calls;
    auto page = co_await get(*next);
    if (!page.ok()) co_return page.error;
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
  for (int attempt = 0;; ++attempt) {
    co_await sleep(limiter_.wait_before(bucket, std::chrono::system_clock::now()));
    net::FetchRequest req;
    req.url = url;
    req.headers = {{"Authorization", authorization_}, {"Accept", "application/json"}};
    req.timeout = call_timeout_;
    req.max_body = 16 * 1024 * 1024;  // a page of 200 users with large profiles stays far below this
    ++calls_;
    auto res = co_await net::fetch(pool_, tls_, std::move(req));
    if (!res.ok()) {
      page.error = "calling " + std::string(bucket) + " failed: " + res.failure;
      co_return page;
    }
    const auto wait = limiter_.record(bucket, RateHeaders::of(res), std::chrono::system_clock::now());
    page.status = res.status;
    if (res.status == 429) {
      ++throttled_;
      if (attempt >= RateLimiter::max_retries) {
        page.error = "Okta kept answering 429 (rate limit) for " + std::string(bucket);
        co_return page;
      }
      co_await sleep(wait.value_or(std::chrono::milliseconds(1000)));
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
