#include "proxy/connection.h"

#include <boost/beast/http/write.hpp>

#include "portal/error_page.h"
#include "proxy/header_rewrite.h"

namespace postern::proxy {
namespace http = boost::beast::http;
using net::nothrow;

void log_exchange(WorkerContext& worker, const Exchange& ex) {
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - ex.start).count();
  worker.log_access({ex.request_id, ex.method, ex.host, ex.path, ex.status, ms, ex.upstream, ex.bytes_in, ex.bytes_out,
                     ex.client_ip});
}

net::Task<bool> send_response(Connection& c, Exchange& ex, LocalResponse& res, bool keep_alive) {
  res.version(11);
  if (res.find(http::field::cache_control) == res.end()) res.set(http::field::cache_control, "no-store");
  // Postern's own error answers (never the upstream's, which do not come this way) say so, as Pomerium's do.
  if (res.result_int() >= 400) res.set("x-pomerium-intercepted-response", "true");
  add_local_response_headers(res.base(), c.settings, ex.request_id);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  ex.status = res.result_int();
  ex.bytes_out = res.body().size();
  c.stream.expire_after(c.write_timeout(), "response write");
  auto [ec, n] = co_await http::async_write(c.stream, res, nothrow);
  co_return !ec && keep_alive;
}

net::Task<bool> send_local(Connection& c, Exchange& ex, unsigned status, std::string_view sentence, bool keep_alive,
                           std::string_view content_type, std::string body) {
  LocalResponse res;
  res.result(status);
  if (status == 495) res.reason("SSL Certificate Error");  // nginx's and Pomerium's; Beast knows no phrase for it
  if (content_type.empty()) {
    auto page = portal::render_error(status, sentence, ex.request_id, ex.json);
    res.set(http::field::content_type, page.content_type);
    res.body() = std::move(page.body);
  } else {
    res.set(http::field::content_type, content_type);
    res.body() = std::move(body);
  }
  co_return co_await send_response(c, ex, res, keep_alive);
}

net::Task<bool> send_page(Connection& c, Exchange& ex, unsigned status, std::string_view sentence, bool keep_alive,
                          std::string_view link_url, std::string_view link_text, std::vector<std::string> set_cookies) {
  LocalResponse res;
  res.result(status);
  auto page = portal::render_error(status, sentence, ex.request_id, ex.json, link_url, link_text);
  res.set(http::field::content_type, page.content_type);
  res.body() = std::move(page.body);
  for (const auto& cookie : set_cookies) res.insert(http::field::set_cookie, cookie);
  co_return co_await send_response(c, ex, res, keep_alive);
}

net::Task<bool> send_redirect(Connection& c, Exchange& ex, std::string_view location, bool keep_alive,
                              std::vector<std::string> set_cookies) {
  LocalResponse res;
  res.result(http::status::found);
  res.set(http::field::location, location);
  for (const auto& cookie : set_cookies) res.insert(http::field::set_cookie, cookie);
  co_return co_await send_response(c, ex, res, keep_alive);
}

}  // namespace postern::proxy
