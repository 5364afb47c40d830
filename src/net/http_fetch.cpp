#include "net/http_fetch.h"

#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "core/strings.h"

namespace postern::net {
namespace http = boost::beast::http;

std::string_view FetchResponse::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers)
    if (core::iequals(n, name)) return v;
  return {};
}

Task<FetchResponse> fetch(UpstreamPool& pool, boost::asio::ssl::context& tls, FetchRequest request) {
  FetchResponse out;
  auto parsed = boost::urls::parse_absolute_uri(request.url);
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty()) {
    out.failure = "invalid URL";
    co_return out;
  }
  config::UpstreamTarget target;
  target.scheme = core::to_lower(parsed->scheme());
  if (target.scheme != "http" && target.scheme != "https") {
    out.failure = "invalid URL";
    co_return out;
  }
  std::string host(parsed->encoded_host());
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  target.host = core::to_lower(host);
  target.port = parsed->has_port() ? parsed->port_number() : (target.scheme == "https" ? 443 : 80);
  target.url = request.url;

  UpstreamEndpoint endpoint{&target, target.tls() ? &tls : nullptr, ""};
  auto acquired = co_await pool.acquire(endpoint, true);
  if (!acquired.connection) {
    out.failure = acquired.timed_out ? "timeout" : acquired.failure ? acquired.failure : "connect";
    co_return out;
  }
  auto& conn = *acquired.connection;
  conn.stream.expire_after(request.timeout, "identity provider call");

  http::request<http::string_body> req;
  req.method_string(request.method);
  std::string path(parsed->encoded_path());
  if (path.empty()) path = "/";
  if (parsed->has_query()) path += "?" + std::string(parsed->encoded_query());
  req.target(path);
  req.version(11);
  req.set(http::field::host, target.authority());
  req.set(http::field::user_agent, "postern");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || request.method == "POST") {
    req.body() = std::move(request.body);
    req.prepare_payload();
  }
  auto [wec, wn] = co_await http::async_write(conn.stream, req, nothrow);
  if (wec) {
    out.failure = conn.stream.expired_by() ? "timeout" : "write";
    co_return out;
  }
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(request.max_body);
  auto [rec, rn] = co_await http::async_read(conn.stream, conn.buffer, parser, nothrow);
  if (rec) {
    out.failure = conn.stream.expired_by()                  ? "timeout"
                  : rec == http::error::body_limit          ? "response too large"
                                                            : "invalid response";
    co_return out;
  }
  auto& res = parser.get();
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  conn.stream.close();
  co_return out;
}

}  // namespace postern::net
