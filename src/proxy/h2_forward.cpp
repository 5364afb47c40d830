#include "proxy/h2_forward.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "core/strings.h"
#include "proxy/h2_session.h"
#include "proxy/h2_upstream.h"
#include "proxy/header_rewrite.h"
#include "proxy/message_reader.h"
#include "proxy/wire.h"
#include "telemetry/log.h"

namespace postern::proxy {
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr std::uint32_t cancel_code = 0x8;          // RST_STREAM CANCEL
constexpr std::uint32_t refused_stream_code = 0x7;  // the upstream did not process the stream: safe to retry
constexpr std::uint32_t internal_error_code = 0x2;

bool wants_trailers(const RequestParser::value_type& req) {
  for (const auto& token : http::token_list(req[http::field::te]))
    if (core::iequals(token, "trailers")) return true;
  return false;
}

// The upstream's reset code as the client's: CANCEL stays CANCEL; anything else midway is INTERNAL_ERROR (a stream
// the upstream refused before answering never reaches this point).
std::uint32_t downstream_reset_code(std::uint32_t upstream) {
  return upstream == cancel_code ? cancel_code : internal_error_code;
}

void log_connect_failure(const Exchange& ex, const net::AcquireResult& failure) {
  telemetry::log(telemetry::Level::warn, "upstream connection failed",
                 {{"request_id", std::string(ex.request_id)}, {"upstream", std::string(ex.upstream)},
                  {"stage", failure.failure ? failure.failure : "connect"}, {"error", failure.error.message()}});
}

Clock::time_point earliest(Clock::time_point a, Clock::time_point b) { return a < b ? a : b; }

void log_upstream(const char* what, const Exchange& ex, std::string_view error) {
  telemetry::log(telemetry::Level::warn, what,
                 {{"request_id", std::string(ex.request_id)}, {"upstream", std::string(ex.upstream)},
                  {"error", std::string(error)}});
}

std::string_view reset_reason(std::uint32_t code) {
  switch (code) {
    case 0x0: return "stream closed";
    case 0x1: return "PROTOCOL_ERROR";
    case 0x2: return "INTERNAL_ERROR";
    case 0x7: return "REFUSED_STREAM";
    case 0x8: return "CANCEL";
    case 0xb: return "ENHANCE_YOUR_CALM";
    default: return "RST_STREAM";
  }
}

// The client's body pumped upstream while the response comes down (HTTP/2 clients: gRPC streams both ways). The
// stream is idle only when neither direction moved for the idle timeout: each side's waits look at the other's last
// activity before giving up.
struct BodyPump {
  explicit BodyPump(net::Executor ex) : wake(ex) {}
  bool done = false;
  bool stopping = false;       // the response ended first: the exchange stopped the pump
  bool client_failed = false;  // the client reset its stream or went silent
  bool body_complete = false;  // the whole body went upstream
  Clock::time_point request_activity = Clock::now();   // the last request bytes
  Clock::time_point response_activity = Clock::now();  // the last response bytes (set by the relay)
  net::Timer wake;
  bool waiting = false;
};

// Whether the other direction moved within `idle`: a stream busy one way is not idle.
bool recently(Clock::time_point at, Clock::duration idle) { return Clock::now() - at < idle; }

net::Task<void> pump_h2_body(Connection& c, Exchange& ex, std::shared_ptr<H2UpstreamStream> up,
                             std::shared_ptr<BodyPump> pump, Clock::duration idle) {
  std::string piece;
  bool end = false;
  bool ok = true;
  while (!end) {
    piece.clear();
    if (!co_await h2_read_body(*c.h2, piece, end, idle)) {
      if (!pump->stopping && !h2_closed(*c.h2) && !up->closed && recently(pump->response_activity, idle))
        continue;  // a silent client on a busy stream (a server-streaming phase of a bidirectional call)
      pump->client_failed = !pump->stopping;
      ok = false;
      break;
    }
    pump->request_activity = Clock::now();
    ex.bytes_in += piece.size();
    if (!piece.empty() && !co_await up->write_body(piece, Clock::now() + idle)) {
      ok = false;
      break;
    }
  }
  if (ok) {
    up->end_body();
    pump->body_complete = true;
  } else if (pump->client_failed) {
    up->reset(cancel_code);
  }
  pump->done = true;
  if (pump->waiting) pump->wake.cancel();
}

// The client's HTTP/1.1 body, sent whole before the response is read (as for HTTP/1.1 upstreams). False when the
// client's body broke (`client_broken`) or the upstream stopped taking it.
net::Task<bool> send_http1_body(Connection& c, Exchange& ex, RequestParser& parser, H2UpstreamStream& up,
                                Clock::duration idle, bool send_continue, bool& client_broken) {
  if (send_continue) {
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    c.stream.expire_after(c.write_timeout(), "response write");
    auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(continue_line), net::nothrow);
    if (ec) {
      client_broken = true;
      co_return false;
    }
  }
  char* buf = c.relay_buffer();
  while (!parser.is_done()) {
    std::size_t n = 0;
    boost::system::error_code ec;
    if (!parse_buffered_body(c.buffer, parser, buf, body_chunk, n, ec)) {
      c.stream.expire_after(c.settings.timeout_idle, "request body read");
      ec = co_await read_body_some(c.stream, c.buffer, parser, buf, body_chunk, n);
    }
    if (ec) {
      client_broken = true;
      up.reset(cancel_code);
      co_return false;
    }
    ex.bytes_in += n;
    if (n > 0 && !co_await up.write_body(std::string_view(buf, n), Clock::now() + idle)) co_return false;
  }
  up.end_body();
  co_return true;
}

// The response to an HTTP/2 client: HEADERS (the same header rewriting as HTTP/1.1), DATA as it arrives, then the
// trailers. False when the exchange broke midway (the client's stream was reset).
net::Task<bool> relay_to_h2(Connection& c, Exchange& ex, H2UpstreamStream& up, const config::CompiledRoute& route,
                            bool is_head, Clock::time_point response_deadline, Clock::duration idle,
                            BodyPump* pump) {
  UpstreamResponse res(c.arena);
  res.assign_h2(up.status, up.fields);
  const bool has_body = !is_head && !(up.ended && up.body.empty() && up.trailers.empty());
  std::vector<http2::Field> fields;
  downstream_response_fields(res, c.settings, &route, ex.request_id, fields);
  h2_respond(*c.h2, up.status, std::move(fields), has_body);
  if (!has_body) co_return true;
  std::string piece;
  while (true) {
    piece.clear();
    up.take_body(piece);
    if (!piece.empty()) {
      ex.bytes_out += piece.size();
      if (pump) pump->response_activity = Clock::now();
      if (!co_await h2_write_body(*c.h2, piece, c.write_timeout())) co_return false;
      continue;
    }
    if (up.ended) {
      h2_end_body(*c.h2, up.trailers);
      co_return true;
    }
    if (up.closed) {
      log_upstream("upstream response aborted", ex, reset_reason(up.close_code));
      h2_reset(*c.h2, downstream_reset_code(up.close_code));
      co_return false;
    }
    if (h2_closed(*c.h2)) co_return false;
    if (!co_await up.wait_response(earliest(response_deadline, Clock::now() + idle))) {
      if (pump && Clock::now() < response_deadline && recently(pump->request_activity, idle))
        continue;  // the client is sending: the stream is not idle
      log_upstream("upstream timed out", ex, response_deadline <= Clock::now() ? "route timeout" : "upstream idle");
      up.reset(cancel_code);
      h2_reset(*c.h2, cancel_code);
      co_return false;
    }
  }
}

// The response to an HTTP/1.1 client: Content-Length when the upstream gave one, else chunked (HTTP/1.0: until
// close); trailers are dropped. Returns whether the connection may go on.
net::Task<bool> relay_to_http1(Connection& c, Exchange& ex, H2UpstreamStream& up, const config::CompiledRoute& route,
                               bool is_head, unsigned client_version, bool keep_alive,
                               Clock::time_point response_deadline, Clock::duration idle) {
  UpstreamResponse res(c.arena);
  res.assign_h2(up.status, up.fields);
  const bool body_expected = !is_head && up.status != 204 && up.status != 304;
  const bool has_length = !res["content-length"].empty();
  DownstreamFraming framing;
  if (body_expected && !has_length) {
    if (client_version < 11) keep_alive = false;  // HTTP/1.0 has no chunked: the body ends at close
    else framing.chunked = true;
  }
  framing.keep_alive = keep_alive;
  c.head.clear();
  write_downstream_response_head(res, framing, c.settings, &route, ex.request_id, c.head);
  std::string piece;
  bool head_pending = true;
  while (true) {
    piece.clear();
    up.take_body(piece);
    if (!body_expected) piece.clear();
    const bool done = up.ended;
    if (head_pending || !piece.empty() || done) {
      const Pieces pieces(head_pending ? c.head.view() : std::string_view(), piece.data(), piece.size(),
                          framing.chunked, done);
      c.stream.expire_after(c.write_timeout(), "response write");
      auto [wec, wn] = co_await asio::async_write(
          c.stream, std::span<const asio::const_buffer>(pieces.buffers.data(), pieces.count), net::nothrow);
      if (wec) co_return false;
      ex.bytes_out += piece.size();
      head_pending = false;
      if (done) co_return keep_alive;
      continue;
    }
    if (up.closed) {
      log_upstream("upstream response aborted", ex, reset_reason(up.close_code));
      co_return false;  // the client saw part of a response: closing is the only honest end
    }
    if (!co_await up.wait_response(earliest(response_deadline, Clock::now() + idle))) {
      log_upstream("upstream timed out", ex, response_deadline <= Clock::now() ? "route timeout" : "upstream idle");
      up.reset(cancel_code);
      co_return false;
    }
  }
}

void fail(H2ExchangeResult& r, unsigned status, const char* sentence, bool keep_alive) {
  r.fail_status = status;
  r.fail_sentence = sentence;
  r.fail_keep_alive = keep_alive;
}

}  // namespace

H2Head h2_head_from_http1(std::string_view head, bool trailers) {
  H2Head out;
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  out.method = std::string(line.substr(0, sp1));
  out.path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::size_t at = line_end;
  while (at != std::string_view::npos) {
    at += 2;
    const std::size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos || end == at) break;
    const std::string_view field = head.substr(at, end - at);
    at = end;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = core::to_lower(field.substr(0, colon));
    std::string_view value = core::trim(field.substr(colon + 1));
    if (name == "host") {
      out.authority = std::string(value);
      continue;
    }
    // HTTP/2 allows only "te: trailers" (added below); the framing is its own (ClientSession drops the rest of
    // the connection-specific fields).
    if (name == "te" || name == "transfer-encoding") continue;
    out.fields.push_back(http2::Field{std::move(name), std::string(value)});
  }
  if (trailers) out.fields.push_back(http2::Field{"te", "trailers"});
  return out;
}

namespace {

// exchange_over_h2 but for stopping the body pump: `up` and `pump` are the caller's, so that it can stop the pump
// however this ends.
net::Task<H2ExchangeResult> run_exchange(Connection& c, Exchange& ex, RequestParser& parser,
                                         const config::CompiledRoute& route, bool client_keep_alive,
                                         bool send_continue, std::unique_ptr<net::UpstreamConnection> fresh,
                                         std::shared_ptr<H2UpstreamStream>& up, std::shared_ptr<BodyPump>& pump) {
  H2ExchangeResult result;
  auto& req = parser.get();
  const bool is_head = req.method() == http::verb::head;
  const bool has_body = !parser.is_done();
  const auto& target = *c.endpoint.target;
  const Clock::duration idle = route.idle_timeout().count() > 0 ? Clock::duration(route.idle_timeout())
                                                                  : Clock::duration(c.settings.timeout_idle);
  const H2Head head = h2_head_from_http1(c.head.view(), wants_trailers(req));
  H2RequestHead request{head.method, target.tls() ? "https" : "http", head.authority, head.path, head.fields,
                        has_body};

  Clock::time_point response_deadline = Clock::time_point::max();
  bool client_broken = false;
  // A stream the upstream refused unprocessed (REFUSED_STREAM, or past a GOAWAY's last stream) is sent again once,
  // when it carried no body.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto opened = co_await c.worker.h2_upstreams.open(c.endpoint, request, std::move(fresh));
    if (opened.failure.connection) {
      result.http1 = std::move(opened.failure.connection);
      co_return result;
    }
    if (!opened.stream) {
      log_connect_failure(ex, opened.failure);
      const bool tls = opened.failure.failure && std::string_view(opened.failure.failure) == "tls";
      result.connect_failed = true;
      fail(result, tls ? 502 : 503,
           tls ? "Postern could not establish a trusted TLS connection to the upstream service."
               : "Postern could not connect to the upstream service.",
           client_keep_alive && !has_body);
      co_return result;
    }
    up = std::move(opened.stream);
    // The route timeout runs from the stream's start for HTTP/2 clients (their body streams along with the
    // response), from the end of the request for HTTP/1.1 ones (as towards HTTP/1.1 upstreams).
    if (has_body) {
      if (c.h2) {
        pump = std::make_shared<BodyPump>(c.stream.get_executor());
        asio::co_spawn(c.stream.get_executor(), pump_h2_body(c, ex, up, pump, idle), asio::detached);
      } else if (!co_await send_http1_body(c, ex, parser, *up, idle, send_continue, client_broken) && client_broken) {
        ex.status = 400;
        co_return result;  // the client's body broke: nothing sensible can follow on this connection
      }
    }
    if (route.timeout().count() > 0) response_deadline = Clock::now() + Clock::duration(route.timeout());
    if (c.h2) {
      H2UpstreamStream* raw = up.get();
      h2_on_close(*c.h2, [raw] { raw->wake(); });
    }
    // The response head.
    while (!up->has_head && !up->closed) {
      if (c.h2 && h2_closed(*c.h2)) break;
      if (co_await up->wait_response(earliest(response_deadline, Clock::now() + idle))) continue;
      // A client still streaming its body (a long client-streaming call) keeps the stream from being idle.
      if (!pump || Clock::now() >= response_deadline || !recently(pump->request_activity, idle)) break;
    }
    if (up->has_head || !up->closed || up->close_code != refused_stream_code || has_body || attempt > 0) break;
    if (c.h2) h2_on_close(*c.h2, {});
    up.reset();
  }

  if (up->has_head) {
    ex.status = ex.upstream_status = up->status;
    if (c.h2) {
      result.keep_alive = co_await relay_to_h2(c, ex, *up, route, is_head, response_deadline, idle, pump.get());
    } else {
      // A body the upstream stopped taking (it answered early) was not read to its end: the connection cannot
      // carry another request (its remaining bytes would be read as one).
      result.keep_alive = co_await relay_to_http1(c, ex, *up, route, is_head, req.version(),
                                                  client_keep_alive && parser.is_done(), response_deadline, idle);
    }
  } else if (c.h2 && h2_closed(*c.h2)) {
    up->reset(cancel_code);  // the client left (a gRPC deadline, a cancelled call): so does the upstream stream
  } else if (up->closed) {
    if (pump && pump->client_failed) {
      ex.status = 400;
    } else {
      log_upstream("upstream reset the request", ex, reset_reason(up->close_code));
      result.gateway_failed = true;
      fail(result, 502, "The upstream service reset the request.", client_keep_alive && parser.is_done());
    }
  } else {
    log_upstream("upstream timed out", ex, response_deadline <= Clock::now() ? "route timeout" : "upstream idle");
    up->reset(cancel_code);
    result.gateway_failed = true;
    fail(result, 504, "The upstream service did not answer in time.", client_keep_alive && parser.is_done());
  }

  co_return result;
}

}  // namespace

net::Task<H2ExchangeResult> exchange_over_h2(Connection& c, Exchange& ex, RequestParser& parser,
                                             const config::CompiledRoute& route, bool client_keep_alive,
                                             bool send_continue, std::unique_ptr<net::UpstreamConnection> fresh) {
  std::shared_ptr<H2UpstreamStream> up;
  std::shared_ptr<BodyPump> pump;
  H2ExchangeResult result;
  std::exception_ptr failure;
  try {
    result = co_await run_exchange(c, ex, parser, route, client_keep_alive, send_continue, std::move(fresh), up, pump);
  } catch (...) {
    failure = std::current_exception();  // the pump uses `c`: it must be stopped before this frame unwinds
  }
  if (pump && !pump->body_complete) {
    // The response is over (or the exchange failed) and the client's body is not all upstream (still coming, or the
    // upstream stopped taking it): the rest is not wanted — discarded, the client's windows reopened.
    pump->stopping = true;
    up->reset(cancel_code);
    h2_discard_body(*c.h2);
    while (!pump->done) {
      pump->wake.expires_at(Clock::time_point::max());
      pump->waiting = true;
      co_await pump->wake.async_wait(net::nothrow);
      pump->waiting = false;
    }
  }
  if (c.h2) h2_on_close(*c.h2, {});
  if (failure) std::rethrow_exception(failure);
  co_return result;
}

}  // namespace postern::proxy
