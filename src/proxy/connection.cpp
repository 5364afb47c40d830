#include "proxy/connection.h"

#include "core/strings.h"
#include "proxy/h2_session.h"

#include <boost/beast/http/write.hpp>

#include "portal/error_page.h"
#include "proxy/header_rewrite.h"

namespace postern::proxy {
namespace http = boost::beast::http;
using net::nothrow;

namespace {

// The request's server span and, when it reached an upstream, the client span whose id the upstream saw.
void submit_spans(telemetry::SpanSink& sink, const Exchange& ex, Clock::time_point now) {
  using telemetry::SpanRecord;
  const auto ns = [&](Clock::time_point t) {
    return static_cast<std::uint64_t>(ex.start_unix_ns +
                                      std::chrono::duration_cast<std::chrono::nanoseconds>(t - ex.start).count());
  };
  SpanRecord server;
  server.trace_id = ex.trace_id;
  server.span_id = ex.span_id;
  server.parent_id = ex.parent_id;
  server.kind = SpanRecord::Kind::server;
  server.name = std::string(ex.method);
  if (!ex.route.empty()) (server.name += ' ') += ex.route;
  server.start_unix_ns = static_cast<std::uint64_t>(ex.start_unix_ns);
  server.end_unix_ns = ns(now);
  server.error = ex.status >= 500 || ex.status == 0;
  auto& a = server.attributes;
  a.emplace_back("http.request.method", std::string(ex.method));
  a.emplace_back("url.path", std::string(ex.path));
  a.emplace_back("server.address", std::string(ex.host));
  a.emplace_back("client.address", std::string(ex.client_ip));
  a.emplace_back("http.response.status_code", static_cast<std::int64_t>(ex.status));
  a.emplace_back("pomerium.request_id", std::string(static_cast<std::string_view>(ex.request_id)));
  if (!ex.route.empty()) a.emplace_back("pomerium.route", std::string(ex.route));
  if (!ex.decision.empty()) a.emplace_back("pomerium.decision", std::string(ex.decision));
  if (!ex.upstream.empty()) a.emplace_back("pomerium.upstream", std::string(ex.upstream));
  if (ex.upstream_start != Clock::time_point{}) {
    SpanRecord client;
    client.trace_id = ex.trace_id;
    client.span_id = ex.upstream_span_id;
    client.parent_id = ex.span_id;
    client.kind = SpanRecord::Kind::client;
    client.name = std::string(ex.method) + " upstream";
    client.start_unix_ns = ns(ex.upstream_start);
    client.end_unix_ns = ns(now);
    client.error = ex.upstream_status == 0 || ex.upstream_status >= 500;
    client.attributes.emplace_back("url.full", std::string(ex.upstream));
    client.attributes.emplace_back("server.address", std::string(ex.upstream_host));
    client.attributes.emplace_back("http.response.status_code", static_cast<std::int64_t>(ex.upstream_status));
    a.emplace_back("pomerium.upstream_duration_ms",
                   static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now - ex.upstream_start).count()));
    sink.submit(std::move(client));
  }
  sink.submit(std::move(server));
}

}  // namespace

void log_exchange(WorkerContext& worker, const Exchange& ex) {
  const auto now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - ex.start).count();
  if (ex.traced && worker.shared->tracer) submit_spans(*worker.shared->tracer, ex, now);
  if (worker.metrics_enabled) {
    worker.metrics.record(ex.answered_by_postern ? telemetry::SeriesKind::server_authenticate
                                                 : telemetry::SeriesKind::server_proxy,
                          ex.metrics_host.empty() ? std::string_view("unknown") : ex.metrics_host, ex.method, ex.status,
                          ms, ex.bytes_in, ex.bytes_out);
    if (ex.upstream_status != 0)
      worker.metrics.record(telemetry::SeriesKind::client, ex.upstream_host, ex.method, ex.upstream_status,
                            std::chrono::duration<double, std::milli>(now - ex.upstream_start).count(), ex.bytes_in,
                            ex.bytes_out);
  }
  worker.log_access({ex.request_id, ex.method, ex.host, ex.path, ex.status, ms, ex.upstream, ex.bytes_in, ex.bytes_out,
                     ex.client_ip, ex.protocol});
}

net::Task<bool> send_response(Connection& c, Exchange& ex, LocalResponse& res, bool keep_alive) {
  res.version(11);
  if (res.find(http::field::cache_control) == res.end()) res.set(http::field::cache_control, "no-store");
  // Postern's own error answers (never the upstream's, which do not come this way) say so, as Pomerium's do.
  if (res.result_int() >= 400) res.set("x-pomerium-intercepted-response", "true");
  add_local_response_headers(res.base(), c.settings, ex.request_id);
  res.keep_alive(keep_alive || c.h2 != nullptr);
  res.prepare_payload();
  ex.status = res.result_int();
  ex.bytes_out = res.body().size();
  if (c.h2) {
    std::vector<http2::Field> fields;
    // Connection-specific fields are dropped by ServerSession::respond.
    for (const auto& f : res.base()) fields.push_back({core::to_lower(f.name_string()), std::string(f.value())});
    const bool has_body = !res.body().empty() && ex.method != "HEAD";
    h2_respond(*c.h2, res.result_int(), std::move(fields), has_body);
    if (has_body) {
      if (!co_await h2_write_body(*c.h2, res.body(), c.write_timeout())) co_return false;
      h2_end_body(*c.h2);
    }
    co_return true;
  }
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
