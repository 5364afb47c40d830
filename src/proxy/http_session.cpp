#include "proxy/http_session.h"
#include "proxy/h2_forward.h"
#include "proxy/h2_session.h"

#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "authz/policy.h"
#include "core/ip_address.h"
#include "telemetry/authorize_log.h"
#include "core/strings.h"
#include "net/timeouts.h"
#include "portal/error_page.h"
#include "proxy/connection.h"
#include "core/random.h"
#include "proxy/header_rewrite.h"
#include "proxy/message_reader.h"
#include "proxy/signin.h"
#include "proxy/wire.h"
#include "telemetry/log.h"
#include "upstream/balancer.h"
#include "upstream/hash.h"

namespace postern::proxy {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
template <class T = void>
using awaitable = net::Task<T>;
using net::nothrow;
using namespace asio::experimental::awaitable_operators;

namespace {

// The request headers the data path consults, found in one pass over the fields (a lookup by name walks Beast's
// field index each time; a dozen of them cost more than the pass).
struct RequestFacts {
  std::string_view host;        // the first Host
  unsigned hosts = 0;           // how many Host headers
  std::string_view request_id;  // X-Request-Id
  std::string_view accept;
  std::string_view forwarded_for;  // the first X-Forwarded-For
  std::string_view expect;
  std::string_view connection;  // the first Connection
  std::string_view upgrade;
  bool transfer_encoding = false;
  bool content_length = false;
  bool credentials = false;  // Authorization or Cookie: Postern's may need stripping before forwarding
  bool keep_alive = false;
  bool origin = false;                         // Origin (a CORS preflight has it)
  bool access_control_request_method = false;  // Access-Control-Request-Method
  bool underscore_name = false;                // a header name with '_' (refused, see framing_problem)
  bool grpc = false;                           // Content-Type application/grpc…: answered in gRPC's terms

  explicit RequestFacts(const RequestParser::value_type& req) {
    for (const auto& f : req) {
      switch (f.name()) {
        case http::field::host:
          if (hosts++ == 0) host = f.value();
          break;
        case http::field::accept:
          if (accept.empty()) accept = f.value();
          break;
        case http::field::expect:
          if (expect.data() == nullptr) expect = f.value();
          break;
        case http::field::connection:
          if (connection.data() == nullptr) connection = f.value();
          break;
        case http::field::upgrade:
          if (upgrade.data() == nullptr) upgrade = f.value();
          break;
        case http::field::transfer_encoding: transfer_encoding = true; break;
        case http::field::content_length: content_length = true; break;
        case http::field::content_type: {
          const auto v = f.value();
          grpc = v.size() >= 16 && core::iequals(std::string_view(v.data(), 16), "application/grpc");
          break;
        }
        case http::field::authorization:
        case http::field::cookie: credentials = true; break;
        case http::field::origin: origin = true; break;
        case http::field::access_control_request_method: access_control_request_method = true; break;
        default:
          if (f.name() != http::field::unknown) break;
          // Beast's known names have no '_'; only unknown ones need the check.
          if (f.name_string().find('_') != std::string_view::npos) underscore_name = true;
          if (request_id.empty() && core::iequals(f.name_string(), "X-Request-Id")) request_id = f.value();
          else if (forwarded_for.empty() && core::iequals(f.name_string(), "X-Forwarded-For"))
            forwarded_for = f.value();
      }
    }
    keep_alive = req.keep_alive();
  }
};

// Reason a request head is unacceptable, before any routing; nullptr when fine.
const char* framing_problem(const RequestParser& parser, const RequestFacts& facts) {
  const auto& req = parser.get();
  if (facts.transfer_encoding && facts.content_length) return "The request has both Content-Length and Transfer-Encoding.";
  if (facts.transfer_encoding && !parser.chunked()) return "The request's Transfer-Encoding does not end in chunked.";
  if (req.version() < 10 || req.version() > 11) return "Only HTTP/1.0 and HTTP/1.1 are supported here.";
  if (facts.hosts > 1) return "The request has more than one Host header.";
  // As Pomerium's Envoy (headers_with_underscores_action: REJECT_REQUEST): an upstream that reads X_User as X-User
  // must never receive a header Postern did not vet.
  if (facts.underscore_name) return "Header names containing underscores are not accepted.";
  return nullptr;
}

bool wants_websocket(const RequestFacts& facts) {
  if (facts.upgrade.data() == nullptr) return false;
  bool connection_upgrade = false;
  for (const auto& token : http::token_list(facts.connection))
    if (core::iequals(token, "upgrade")) connection_upgrade = true;
  return connection_upgrade && core::iequals(core::trim(facts.upgrade), "websocket");
}

// What to do with a request, decided synchronously (see handle_request).
struct Plan {
  // route: routing decides next (route_request); endpoint: Postern's own endpoint first, then routing.
  enum class Kind { answer, route, endpoint, refresh, sign_in, forward, denied } kind = Kind::answer;
  unsigned status = 0;  // Kind::answer
  std::string_view sentence;
  std::string_view content_type;
  std::string_view body;
  bool keep_alive = false;
  RequestContext rc;  // Kind::endpoint, sign_in, forward
  const config::CompiledRoute* route = nullptr;
  SessionLookup lookup;
  bool connect = false;  // CONNECT host:port to a TCP route (from: tcp+https://host:port)
  bool websocket = false;
  std::optional<RequestFacts> facts;  // set by handle_request before planning
  authz::Decision decision;            // Kind::denied: why (shown with show_error_details)
};

using Deadline = net::Watched::clock;

// Interim (1xx) responses skipped before the final one; an upstream sending more is broken or hostile.
constexpr unsigned max_interim_responses = 16;  // coarse time is enough for deadlines the watchdog checks every 250 ms

// Arms an upstream read: the route timeout when it comes first, else the idle timeout.
void arm_upstream_read(net::Stream& s, Deadline::time_point response_deadline, Clock::duration idle) {
  const auto idle_deadline = Deadline::now() + idle;
  if (response_deadline < idle_deadline) s.expire_at(response_deadline, "route timeout");
  else s.expire_at(idle_deadline, "upstream idle");
}

// Relays one message from `in` (whose head is already parsed into `parser`) to `out`: the serialized `head`, then the
// body in chunks of at most body_chunk bytes, framed as chunked when `chunked_out`. Nothing more is read from `in`
// until the previous chunk was written to `out` (back-pressure). A small message leaves in one gathered write.
// `pending` body bytes may already be in `buf` (parsed by the caller). `read_deadline` / `write_deadline` re-arm the
// two streams before each step. Returns {read error, write error}.
template <class Parser, class ReadDeadline, class WriteDeadline>
awaitable<std::pair<boost::system::error_code, boost::system::error_code>> relay_message(
    net::Stream& in, beast::flat_buffer& in_buffer, Parser& parser,
    net::Stream& out, std::string_view head, bool chunked_out, char* buf, std::uint64_t& bytes,
    ReadDeadline read_deadline, WriteDeadline write_deadline, std::size_t pending = 0) {
  bool head_pending = true;
  while (true) {
    if (head_pending && pending == 0 && !parser.is_done() && in_buffer.size() == 0) {
      // Nothing of the body has arrived yet: let the head go first (long polls, slow uploads, event streams).
      write_deadline(out);
      auto [wec, wn] = co_await asio::async_write(out, asio::buffer(head), nothrow);
      if (wec) co_return std::pair{boost::system::error_code{}, wec};
      head_pending = false;
    }
    std::size_t n = pending;
    pending = 0;
    if (n == 0 && !parser.is_done()) {
      // Whatever arrived is forwarded at once rather than waiting to fill the chunk (streaming). Bytes already
      // buffered are parsed without suspending; only an empty buffer means a read.
      boost::system::error_code ec;
      if (!parse_buffered_body(in_buffer, parser, buf, body_chunk, n, ec)) {
        read_deadline(in);
        ec = co_await read_body_some(in, in_buffer, parser, buf, body_chunk, n);
      }
      if (ec) co_return std::pair{ec, boost::system::error_code{}};
      bytes += n;
    }
    const bool done = parser.is_done();
    const Pieces pieces(head_pending ? head : std::string_view(), buf, n, chunked_out, done);
    if (pieces.count > 0) {
      write_deadline(out);
      auto [wec, wn] = co_await asio::async_write(out, pieces.buffers, nothrow);
      if (wec) co_return std::pair{boost::system::error_code{}, wec};
      head_pending = false;
    }
    if (done) break;
  }
  co_return std::pair{boost::system::error_code{}, boost::system::error_code{}};
}

// Copies bytes one way until either side fails; then closes both so the opposite pump ends too.
awaitable<void> pump(net::Stream& from, net::Stream& to, char* buf, std::uint64_t& bytes, Clock::duration idle) {
  while (true) {
    from.expire_after(idle, "tunnel idle");
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf, body_chunk), nothrow);
    if (ec) break;
    to.expire_after(idle, "tunnel idle");
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf, n), nothrow);
    if (wec) break;
    bytes += n;
  }
  from.close();
  to.close();
}

awaitable<void> splice(Connection& c, Exchange& ex, net::UpstreamConnection& up, Clock::duration idle);

// The route's idle_timeout, else timeout_idle: how long an upstream exchange or a tunnel may stay silent.
Clock::duration idle_timeout(const Connection& c, const config::CompiledRoute& route) {
  return route.idle_timeout().count() > 0 ? Clock::duration(route.idle_timeout())
                                          : Clock::duration(c.settings.timeout_idle);
}

// After an upstream's 101: sends the head to the client, then splices bytes both ways until either side ends.
// Its own coroutine so that forward's frame stays small.
awaitable<void> tunnel(Connection& c, Exchange& ex, net::UpstreamConnection& up,
                       const UpstreamResponse& res, const config::CompiledRoute& route,
                       Clock::duration idle) {
  c.head.clear();
  write_downstream_response_head(res, {}, c.settings, &route, ex.request_id, c.head);
  c.stream.expire_after(c.write_timeout(), "response write");
  auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(c.head.view()), nothrow);
  if (ec) co_return;
  co_await splice(c, ex, up, idle);
}

// Bytes both ways between the client and `up` until either side ends or stays idle past `idle`: first what either
// side already read past its head, then a pump each way. Websocket and CONNECT tunnels.
awaitable<void> splice(Connection& c, Exchange& ex, net::UpstreamConnection& up, Clock::duration idle) {
  if (c.buffer.size() > 0) {
    auto [wec, wn] = co_await asio::async_write(up.stream, c.buffer.data(), nothrow);
    if (wec) co_return;
    ex.bytes_in += wn;
    c.buffer.consume(wn);
  }
  if (up.buffer.size() > 0) {
    auto [wec, wn] = co_await asio::async_write(c.stream, up.buffer.data(), nothrow);
    if (wec) co_return;
    ex.bytes_out += wn;
    up.buffer.consume(wn);
  }
  auto reverse = std::make_unique<char[]>(body_chunk);
  co_await (pump(c.stream, up.stream, c.relay_buffer(), ex.bytes_in, idle) &&
            pump(up.stream, c.stream, reverse.get(), ex.bytes_out, idle));
}

// Ends a TCP tunnel when its session does (signed out, revoked by Okta, expired): looks once a second until `done`.
awaitable<void> watch_tunnel_session(Connection& c, net::UpstreamConnection& up, std::string sid, net::Timer& timer,
                                     const bool& done) {
  while (!done && !sid.empty()) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(nothrow);
    if (done) break;
    if (!c.shared.auth->store->get(sid)) {
      telemetry::log(telemetry::Level::info, "tcp tunnel closed: its session ended",
                     {{"request_id", std::string(c.exchange.request_id)}});
      c.stream.close();
      up.stream.close();
      break;
    }
  }
}

awaitable<void> pump_both(Connection& c, Exchange& ex, net::UpstreamConnection& up, Clock::duration idle,
                          net::Timer& timer, bool& done) {
  co_await splice(c, ex, up, idle);
  done = true;
  timer.cancel();
}

// ring_hash / maglev's key for a request: the route's hash_policy header when the request has it, else the session
// id (Pomerium hashes the session too); none otherwise (the balancer then picks at random).
std::optional<std::uint64_t> balance_key(const upstream::Balancer& b, const session::Session* s,
                                         const RequestParser::value_type* req) {
  if (!b.hashes()) return std::nullopt;
  if (req && !b.hash_header().empty()) {
    // A linear walk comparing lengths first: cheaper than the fields' case-insensitive ordered index for a handful
    // of headers (callgrind: ~460 → ~100 instructions per request).
    const std::string_view name = b.hash_header();
    for (const auto& f : *req) {
      const std::string_view n = f.name_string();
      if (n.size() == name.size() && core::iequals(n, name)) return upstream::hash64(f.value());
    }
  }
  if (s) return upstream::hash64(s->id);
  return std::nullopt;
}

// Outlier detection's view of one exchange with target `ti` (a no-op unless the route detects outliers).
void note_outcome(Connection& c, const config::CompiledRoute& route, std::size_t ti, upstream::Outcome outcome) {
  if (!route.settings().upstream.outlier.enabled || !c.shared.upstream_health) return;
  auto& health = c.shared.upstream_health->route(route.settings().index);
  const auto now = upstream::now_ms();
  if (!health.record(ti, outcome, now)) return;
  const auto until = health.target(ti).ejected_until.load(std::memory_order_relaxed);
  telemetry::log(telemetry::Level::warn, "upstream ejected",
                 {{"route", route.settings().from}, {"upstream", route.settings().to[ti].url},
                  telemetry::num("ejected_ms", static_cast<long long>(until - now)),
                  telemetry::num("ejections", static_cast<long long>(
                                                  health.target(ti).ejections_total.load(std::memory_order_relaxed)))});
}

// Methods a proxy may send again when nothing reached the upstream (RFC 9110 §9.2.2).
bool idempotent(http::verb m) {
  return m == http::verb::get || m == http::verb::head || m == http::verb::options || m == http::verb::trace ||
         m == http::verb::put || m == http::verb::delete_;
}

// Counts a request in flight on its target for least_request, for as long as the forwarding coroutine runs.
struct InFlight {
  upstream::Balancer& balancer;
  std::size_t target;
  InFlight(upstream::Balancer& b, std::size_t t) : balancer(b), target(t) { balancer.started(target); }
  ~InFlight() { balancer.finished(target); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  void move_to(std::size_t t) {
    balancer.finished(target);
    target = t;
    balancer.started(target);
  }
};

// CONNECT host:port to a TCP route the policy allowed: a fresh connection to the route's tcp:// upstream, 200, then
// bytes both ways (no length limit) until either side ends, the idle timeout passes, or the session ends.
awaitable<bool> connect_tunnel(Connection& c, Exchange& ex, const Plan& p) {
  auto& balancer = c.balancers[p.route->settings().index];
  const auto picked = balancer.pick(balance_key(balancer, p.lookup.session.get(), nullptr));
  if (!picked) co_return co_await send_local(c, ex, 503, "No upstream service is available for this route.", false);
  const auto& target = p.route->settings().to[*picked];
  ex.upstream = target.url;
  c.endpoint = net::UpstreamEndpoint{&target, nullptr, {}, 0};
  auto acquired = co_await c.worker.pool.acquire(c.endpoint, true);
  note_outcome(c, *p.route, *picked,
               acquired.connection ? upstream::Outcome::success : upstream::Outcome::connect_failure);
  if (!acquired.connection) co_return co_await send_local(c, ex, 503, "The TCP upstream could not be reached.", false);
  auto& up = *acquired.connection;
  static constexpr std::string_view established = "HTTP/1.1 200 Connection established\r\n\r\n";
  c.stream.expire_after(c.write_timeout(), "response write");
  auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(established.data(), established.size()), nothrow);
  if (ec) co_return false;
  ex.status = 200;
  const auto idle = idle_timeout(c, *p.route);
  net::Timer timer(c.stream.get_executor());
  bool done = false;
  const std::string sid = p.lookup.session ? p.lookup.session->id : std::string();
  co_await (pump_both(c, ex, up, idle, timer, done) && watch_tunnel_session(c, up, sid, timer, done));
  co_return false;
}

// 407 for a CONNECT without a session (pomerium-cli then signs in and retries with Authorization: Pomerium …).
awaitable<bool> send_proxy_auth_required(Connection& c, Exchange& ex) {
  LocalResponse res;
  res.result(http::status::proxy_authentication_required);
  res.set(http::field::proxy_authenticate, "Pomerium");
  auto page = portal::render_error(407, "Sign-in required: connect with Authorization: Pomerium <token>.",
                                   ex.request_id, true);
  res.set(http::field::content_type, page.content_type);
  res.body() = std::move(page.body);
  co_return co_await send_response(c, ex, res, false);
}

// An error page from inside forward: a plain function call site keeps forward's coroutine frame small (each
// send_local call site would hold its own argument temporaries across the suspension).
awaitable<bool> send_error(Connection& c, Exchange& ex, unsigned status, const char* sentence, bool keep_alive) {
  co_return co_await send_local(c, ex, status, sentence, keep_alive);
}

// The second half of forward: the upstream's response head is in c.response_parser; frames it for the client and
// relays it (one write when the whole response is already buffered). A coroutine of its own so that neither frame
// grows past what Asio recycles.
// deliver_response for an HTTP/2 stream: the head as HEADERS (the same header rewriting as HTTP/1.1, as fields), then the body as
// DATA as it arrives, read from the upstream only while the stream has room (its window, then a 64 KiB buffer).
awaitable<bool> deliver_h2_response(Connection& c, Exchange& ex, const config::CompiledRoute& route,
                                    std::unique_ptr<net::UpstreamConnection>& up, bool is_head, Clock::duration idle,
                                    Deadline::time_point response_deadline, std::string_view upstream_url) {
  auto& rp = c.response_parser;
  auto& res = rp->get();
  const bool upstream_keep_alive = rp->keep_alive();
  const bool until_eof = !rp->is_done() && !rp->chunked() && !rp->content_length();
  const unsigned code = res.result_int();
  const bool has_body = !is_head && code != 204 && code != 304 && !rp->is_done();
  std::vector<http2::Field> fields;
  downstream_response_fields(res, c.settings, &route, ex.request_id, fields);
  h2_respond(*c.h2, code, std::move(fields), has_body);
  if (has_body) {
    char* buf = c.relay_buffer();
    while (!rp->is_done()) {
      std::size_t n = 0;
      boost::system::error_code ec;
      if (!parse_buffered_body(up->buffer, *rp, buf, body_chunk, n, ec)) {
        arm_upstream_read(up->stream, response_deadline, idle);
        ec = co_await read_body_some(up->stream, up->buffer, *rp, buf, body_chunk, n);
      }
      if (ec) {
        telemetry::log(telemetry::Level::warn, "upstream response aborted",
                       {{"request_id", ex.request_id}, {"upstream", std::string(upstream_url)},
                        {"error", up->stream.expired_by() ? up->stream.expired_by() : ec.message()}});
        h2_reset(*c.h2, 0x2);  // INTERNAL_ERROR: the client saw part of a response
        co_return false;
      }
      ex.bytes_out += n;
      if (n > 0 && !co_await h2_write_body(*c.h2, std::string_view(buf, n), c.write_timeout())) co_return false;
    }
    h2_end_body(*c.h2);
  }
  up->stream.expire_never();
  if (upstream_keep_alive && rp->is_done() && !until_eof) c.worker.pool.release(std::move(up));
  co_return true;
}

awaitable<bool> deliver_response(Connection& c, Exchange& ex, const config::CompiledRoute& route,
                                 std::unique_ptr<net::UpstreamConnection>& up, bool keep_alive, bool is_head,
                                 unsigned client_version, Clock::duration idle, Deadline::time_point response_deadline,
                                 std::string_view upstream_url) {
  if (c.h2) co_return co_await deliver_h2_response(c, ex, route, up, is_head, idle, response_deadline, upstream_url);
  auto& rp = c.response_parser;
  auto& res = rp->get();
  // Response framing towards the client.
  const bool upstream_keep_alive = rp->keep_alive();
  const bool until_eof = !rp->is_done() && !rp->chunked() && !rp->content_length();
  const unsigned code = res.result_int();
  const bool body_expected = !is_head && code != 204 && code != 304;
  DownstreamFraming framing;
  if (client_version < 11) {
    if (rp->chunked() || until_eof) keep_alive = false;  // HTTP/1.0 has no chunked: the body ends at close
  } else if (rp->chunked() || (until_eof && body_expected)) {
    framing.chunked = true;
  }
  const bool chunked_out = framing.chunked && body_expected;
  framing.keep_alive = keep_alive;

  c.head.clear();
  write_downstream_response_head(res, framing, c.settings, &route, ex.request_id, c.head);
  // Fast paths: the whole response is already here (a small body, or none) — one write, no relay loop. A
  // Content-Length body leaves straight from the upstream's buffer (the parser never copies it, no relay buffer is
  // leased); any other body is parsed into the relay buffer first.
  boost::system::error_code rec, wec;
  std::size_t pending = 0;  // body bytes ready to leave with the head
  const char* body = nullptr;
  bool direct = false;
  const auto remaining = rp->content_length_remaining();
  if (!rp->is_done() && !rp->chunked() && remaining && up->buffer.size() >= *remaining) {
    direct = true;
    pending = static_cast<std::size_t>(*remaining);
    body = static_cast<const char*>(up->buffer.data().data());
  } else if (!rp->is_done()) {
    char* buf = c.relay_buffer();
    body = buf;
    parse_buffered_body(up->buffer, *rp, buf, body_chunk, pending, rec);
  }
  ex.bytes_out += pending;
  const bool complete = direct || rp->is_done();
  if (!rec && complete) {
    const Pieces pieces(c.head.view(), body, pending, chunked_out, true);
    // Written at once when the socket takes it all (nearly always); the composed write is only for the rest.
    boost::system::error_code ec;
    const std::size_t n = c.stream.write_now(pieces.buffers, ec);
    if (!ec && n < asio::buffer_size(pieces.buffers)) {
      beast::buffers_suffix<std::array<asio::const_buffer, 5>> rest(pieces.buffers);
      rest.consume(n);
      c.stream.expire_after(c.write_timeout(), "response write");
      auto [rest_ec, rest_n] = co_await asio::async_write(c.stream, rest, nothrow);
      ec = rest_ec;
    }
    wec = ec;
    if (direct) up->buffer.consume(pending);  // the upstream's buffer held the body until it was written
  } else if (!rec) {
    std::tie(rec, wec) = co_await relay_message(
        up->stream, up->buffer, *rp, c.stream, c.head.view(), chunked_out, c.relay_buffer(), ex.bytes_out,
        [&](net::Stream& s) { arm_upstream_read(s, response_deadline, idle); },
        [&](net::Stream& s) { s.expire_after(c.write_timeout(), "response write"); }, pending);
  }
  if (rec || wec) {
    if (rec && !wec) {
      telemetry::log(telemetry::Level::warn, "upstream response aborted",
                     {{"request_id", ex.request_id}, {"upstream", std::string(upstream_url)},
                      {"error", up->stream.expired_by() ? up->stream.expired_by() : rec.message()}});
    }
    co_return false;  // the client saw part of a response: closing is the only honest end
  }
  up->stream.expire_never();
  if (upstream_keep_alive && (direct || rp->is_done()) && !until_eof) c.worker.pool.release(std::move(up));
  co_return keep_alive;
}

// Sends the rewritten head and the request body to the upstream (a coroutine of its own: keeps forward's frame small).
awaitable<std::pair<boost::system::error_code, boost::system::error_code>> send_with_body(
    Connection& c, Exchange& ex, RequestParser& parser, net::UpstreamConnection& up, bool chunked,
    Clock::duration idle, bool send_continue) {
  if (c.h2) {
    // The body comes from the HTTP/2 stream: each piece as it arrives (chunked when its length is unknown), the
    // client's window reopened for each piece the upstream took.
    up.stream.expire_after(idle, "upstream write");
    auto [hec, hn] = co_await asio::async_write(up.stream, asio::buffer(c.head.view()), nothrow);
    if (hec) co_return std::pair{boost::system::error_code{}, hec};
    std::string piece;
    bool end = false;
    while (!end) {
      piece.clear();
      if (!co_await h2_read_body(*c.h2, piece, end, c.settings.timeout_idle))
        co_return std::pair{boost::system::error_code{http::error::partial_message}, boost::system::error_code{}};
      ex.bytes_in += piece.size();
      const Pieces pieces(std::string_view(), piece.data(), piece.size(), chunked, end);
      if (pieces.count == 0) continue;
      up.stream.expire_after(idle, "upstream write");
      auto [wec, wn] = co_await asio::async_write(up.stream, pieces.buffers, nothrow);
      if (wec) co_return std::pair{boost::system::error_code{}, wec};
    }
    co_return std::pair{boost::system::error_code{}, boost::system::error_code{}};
  }
  if (send_continue) {
    // The client waits for this before sending its body: ours to answer once we know we will forward.
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    c.stream.expire_after(c.write_timeout(), "response write");
    auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(continue_line), nothrow);
    if (ec) co_return std::pair{ec, boost::system::error_code{}};
  }
  co_return co_await relay_message(
      c.stream, c.buffer, parser, up.stream, c.head.view(), chunked, c.relay_buffer(), ex.bytes_in,
      [&c](net::Stream& s) { s.expire_after(c.settings.timeout_idle, "request body read"); },
      [idle](net::Stream& s) { s.expire_after(idle, "upstream write"); });
}

// Writes the request head for the upstream into c.head (path, forwarding and identity headers, framing) and fills
// `endpoint`.
void rewrite_for_upstream(Connection& c, Exchange& ex, RequestParser& parser, const RequestFacts& facts,
                          const config::CompiledRoute& route,
                          const config::UpstreamTarget& target, bool websocket, const session::Session* session,
                          std::string_view route_host, std::string_view normalized_path,
                          net::UpstreamEndpoint& endpoint) {
  auto& req = parser.get();
  const bool request_chunked = parser.chunked();
  // Target after path rewriting, query kept as sent.
  const std::string_view raw_target = req.target();
  const auto qpos = raw_target.find('?');
  std::string upstream_target = route.rewrite_path(normalized_path);
  if (qpos != std::string_view::npos) upstream_target += raw_target.substr(qpos);
  if (facts.credentials) strip_postern_credentials(req.base(), c.settings);
  ForwardContext ctx{c.peer_ip, c.scheme(), facts.host, ex.request_id, upstream_target, websocket,
                     request_chunked, {}, {}, {}, {}};
  if (ex.traced) ctx.traceparent = std::string_view(ex.traceparent, sizeof ex.traceparent);
  // Only a certificate the route trusts speaks for the client upstream (an untrusted one could claim any SAN).
  if (c.client_certificate &&
      net::client_certificate_valid(c.shared.mtls, *c.client_certificate, route.settings().index)) {
    ctx.client_cert_fingerprint = c.client_certificate->fingerprint;
    ctx.client_cert_san_dns = c.client_certificate->san_dns;
    ctx.client_cert_san_email = c.client_certificate->san_email;
  }
  std::span<const HeaderView> identity;
  if (session && route.settings().pass_identity_headers.value_or(c.settings.pass_identity_headers))
    identity = identity_headers(c, *session, route_host);
  c.head.clear();
  write_upstream_request_head(req.base(), c.settings, route, target, ctx, identity, c.head);
  // The key names the configuration too: after a reload, route 2 may be another route with other targets.
  endpoint = net::UpstreamEndpoint{&target, nullptr, route.settings().tls_server_name,
                                   (c.shared.generation << 40) | ((route.settings().index + 1) << 16) |
                                       static_cast<std::uint64_t>(&target - route.settings().to.data())};
  if (target.tls()) endpoint.tls = c.shared.route_tls.at(route.settings().index).get();
  // https upstreams may choose h2 by ALPN, except on websocket routes (an upgrade is an HTTP/1.1 exchange).
  endpoint.offer_h2 = target.tls() && !route.settings().allow_websockets;
}

awaitable<bool> forward(Connection& c, Exchange& ex, RequestParser& parser, const Plan& plan, bool client_keep_alive,
                        bool http1_only = false);

// forward for an HTTP/2 upstream (h2_forward.h): the exchange, then what forward does with its outcome.
awaitable<bool> forward_over_h2(Connection& c, Exchange& ex, RequestParser& parser, const Plan& plan, std::size_t ti,
                                bool client_keep_alive, bool send_continue,
                                std::unique_ptr<net::UpstreamConnection> fresh) {
  auto r = co_await exchange_over_h2(c, ex, parser, *plan.route, client_keep_alive, send_continue, std::move(fresh));
  if (r.http1) {
    // An https upstream that spoke h2 chose HTTP/1.1 on a new connection: it goes to the idle list, and the
    // request takes the HTTP/1.1 path (which finds it there), offering HTTP/1.1 alone should it connect again.
    c.worker.pool.release(std::move(r.http1));
    co_return co_await forward(c, ex, parser, plan, client_keep_alive, /*http1_only=*/true);
  }
  if (r.fail_status) {
    if (r.connect_failed) note_outcome(c, *plan.route, ti, upstream::Outcome::connect_failure);
    else if (r.gateway_failed) note_outcome(c, *plan.route, ti, upstream::Outcome::gateway_failure);
    co_return co_await send_error(c, ex, r.fail_status, r.fail_sentence, r.fail_keep_alive);
  }
  if (ex.upstream_status != 0) {
    ex.upstream_host = c.endpoint.target->host_header;
    note_outcome(c, *plan.route, ti, upstream::outcome_of_status(ex.upstream_status));
  }
  co_return r.keep_alive;
}

// Forwards one request to an upstream and relays the response. Precondition: the plan's route has an upstream.
awaitable<bool> forward(Connection& c, Exchange& ex, RequestParser& parser, const Plan& plan, bool client_keep_alive,
                        bool http1_only) {
  // Everything the plan knows is read through it: fewer parameters and locals, a frame Asio can recycle (≤1 KiB).
  auto& req = parser.get();
  const bool is_head = req.method() == http::verb::head;
  const unsigned client_version = req.version();
  const bool request_chunked = parser.chunked();
  const bool request_has_body = !parser.is_done();
  const auto& rs = plan.route->settings();
  auto& balancer = c.balancers[rs.index];
  const auto key = balance_key(balancer, plan.lookup.session.get(), &req);
  const auto picked = balancer.pick(key);
  if (!picked) {
    telemetry::log(telemetry::Level::warn, "no healthy upstream",
                   {{"request_id", ex.request_id}, {"route", rs.from}});
    co_return co_await send_error(c, ex, 503, "No upstream service is available for this route right now.",
                                  client_keep_alive && !request_has_body);
  }
  std::size_t ti = *picked;
  const config::UpstreamTarget* target = &rs.to[ti];
  InFlight in_flight{balancer, ti};
  ex.upstream = target->url;
  bool switched = false;  // a failed connection moved the request to another target once

  // 100-continue is ours to answer once we know we will forward (decided before the rewrite removes Expect).
  const bool send_continue =
      client_version == 11 && core::iequals(core::trim(plan.facts->expect), "100-continue") && request_has_body;
  // The upstream endpoint lives on the connection, and the head rewriting happens in a plain function: neither
  // takes room in this coroutine's frame.
  net::UpstreamEndpoint& endpoint = c.endpoint;
  rewrite_for_upstream(c, ex, parser, *plan.facts, *plan.route, *target, plan.websocket, plan.lookup.session.get(), plan.rc.host, plan.rc.path,
                       endpoint);

  const auto idle = idle_timeout(c, *plan.route);
  ex.upstream_start = Clock::now();
  if (http1_only) endpoint.offer_h2 = false;

  std::unique_ptr<net::UpstreamConnection> up;
  auto& rp = c.response_parser;  // lives on the connection: keeps this coroutine's frame small
  Deadline::time_point response_deadline = Deadline::time_point::max();
  // At most two attempts: a reused keep-alive connection may have been closed by the upstream while idle; a request
  // without a body is then sent again on a fresh connection.
  // Failures leave the loop with a status and a sentence; one call site answers them (see send_error).
  unsigned fail_status = 0;
  const char* fail_sentence = nullptr;
  bool fail_keep_alive = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    net::AcquireResult acquired;
    if (target->h2c() || (endpoint.offer_h2 && c.worker.h2_upstreams.knows(endpoint))) {
      // An HTTP/2 upstream: a connection with room for one more stream, then the exchange over it. A new https
      // connection that chose HTTP/1.1 instead goes on below; a failure is handled below like any other.
      acquired = co_await c.worker.h2_upstreams.ready(endpoint);
      if (!acquired.failure && !acquired.connection)
        co_return co_await forward_over_h2(c, ex, parser, plan, ti, client_keep_alive, send_continue, nullptr);
    } else {
      if (attempt == 0) acquired.connection = c.worker.pool.take_idle(endpoint);
      // The idle list was just tried (or, on a retry, must not be): a new connection.
      if (!acquired.connection) acquired = co_await c.worker.pool.acquire(endpoint, /*fresh=*/true);
    }
    if (!acquired.connection) {
      telemetry::log(telemetry::Level::warn, "upstream connection failed",
                     {{"request_id", ex.request_id}, {"upstream", target->url}, {"stage", acquired.failure},
                      {"error", acquired.error.message()}});
      note_outcome(c, *plan.route, ti, upstream::Outcome::connect_failure);
      // Nothing was sent: an idempotent request goes to another target, once, when the route has one to offer.
      if (!switched && rs.to.size() > 1 && idempotent(req.method())) {
        if (const auto other = balancer.pick(key, ti); other && *other != ti) {
          switched = true;
          in_flight.move_to(*other);
          ti = *other;
          target = &rs.to[ti];
          ex.upstream = target->url;
          rewrite_for_upstream(c, ex, parser, *plan.facts, *plan.route, *target, plan.websocket,
                               plan.lookup.session.get(), plan.rc.host, plan.rc.path, endpoint);
          attempt = -1;
          continue;
        }
      }
      const bool tls = std::string_view(acquired.failure) == "tls";
      // A target that cannot be reached is unavailable (503, as Envoy answers); one whose TLS cannot be trusted is a
      // broken gateway (502).
      fail_status = tls ? 502 : 503;
      fail_sentence = tls ? "Postern could not establish a trusted TLS connection to the upstream service."
                          : "Postern could not connect to the upstream service.";
      fail_keep_alive = client_keep_alive && !request_has_body;
      break;
    }
    up = std::move(acquired.connection);
    if (up->h2)  // the https upstream chose h2 by ALPN
      co_return co_await forward_over_h2(c, ex, parser, plan, ti, client_keep_alive, send_continue && attempt == 0,
                                         std::move(up));

    // c.head holds the upstream request head (rewrite_for_upstream) until the response head replaces it.
    boost::system::error_code rec, wec;
    if (!request_has_body && !request_chunked) {
      // The common case: a head alone, written directly. (A chunked request always goes through relay_message,
      // which writes its final chunk even when the body was empty and already parsed.)
      // Written at once when the socket takes it all (nearly always); the composed write is only for the rest.
      std::size_t written = up->stream.write_now(asio::buffer(c.head.view()), wec);
      if (!wec && written < c.head.size()) {
        up->stream.expire_after(idle, "upstream write");
        std::tie(wec, written) = co_await asio::async_write(up->stream, asio::buffer(c.head.view()) + written, nothrow);
      }
    } else {
      std::tie(rec, wec) = co_await send_with_body(c, ex, parser, *up, request_chunked, idle, send_continue && attempt == 0);
    }
    if (rec) {
      // The client went away or sent a broken body: nothing sensible can follow on this connection.
      if (rec != http::error::end_of_stream && !c.stream.expired_by() && rec != asio::error::operation_aborted &&
          rec.category() == http::make_error_code(http::error::bad_chunk).category()) {
        fail_status = 400;
        fail_sentence = "The request body is malformed.";
        break;
      }
      ex.status = ex.status ? ex.status : 400;
      co_return false;
    }
    if (wec) {
      if (up->reused && !request_has_body && attempt == 0) continue;
      telemetry::log(telemetry::Level::warn, "upstream write failed",
                     {{"request_id", ex.request_id}, {"upstream", target->url}, {"error", wec.message()}});
      fail_status = 502;
      fail_sentence = "The upstream service closed the connection.";
      break;
    }

    // The response head, skipping interim 1xx responses (101 ends the exchange for websockets).
    if (plan.route->timeout().count() > 0) response_deadline = Deadline::now() + plan.route->timeout();
    bool retry = false;
    unsigned interim = 0;  // 1xx heads skipped so far; each takes arena memory until the request ends
    while (true) {
      rp.emplace(c.arena);
      rp->header_limit(header_limit);
      rp->body_limit(boost::none);
      if (is_head) rp->skip(true);
      arm_upstream_read(up->stream, response_deadline, idle);
      // The first read is done here rather than in read_head: one coroutine frame fewer per request.
      boost::system::error_code ec;
      std::size_t consumed = 0;
      if (up->buffer.size() == 0) {
        std::tie(ec, consumed) = co_await up->stream.async_read_some(up->buffer.prepare(head_read_size), nothrow);
        if (ec == asio::error::eof) ec = http::error::end_of_stream;
        if (!ec) up->buffer.commit(consumed);
        consumed = 0;
      }
      if (!ec && !try_parse_head(up->buffer, *rp, consumed, ec))
        ec = co_await read_head(up->stream, up->buffer, *rp, consumed);
      if (ec) {
        const char* expired = up->stream.expired_by();
        if (!expired && up->reused && !request_has_body && attempt == 0 &&
            (ec == http::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::eof)) {
          retry = true;
          break;
        }
        if (expired) {
          note_outcome(c, *plan.route, ti, upstream::Outcome::gateway_failure);
          telemetry::log(telemetry::Level::warn, "upstream timed out",
                         {{"request_id", ex.request_id}, {"upstream", target->url}, {"timeout", expired}});
          fail_status = 504;
          fail_sentence = "The upstream service did not answer in time.";
          break;
        }
        telemetry::log(telemetry::Level::warn, "upstream sent an invalid response",
                       {{"request_id", ex.request_id}, {"upstream", target->url}, {"error", ec.message()}});
        note_outcome(c, *plan.route, ti, upstream::Outcome::gateway_failure);
        fail_status = 502;
        fail_sentence = "The upstream service sent an invalid response.";
        break;
      }
      const unsigned code = rp->get().result_int();
      if (code >= 100 && code < 200 && code != 101) {
        if (++interim <= max_interim_responses) continue;
        telemetry::log(telemetry::Level::warn, "upstream sent too many interim responses",
                       {{"request_id", ex.request_id}, {"upstream", target->url}});
        fail_status = 502;
        fail_sentence = "The upstream service sent an invalid response.";
      }
      break;
    }
    if (retry && !fail_status) continue;
    break;
  }
  if (fail_status) co_return co_await send_error(c, ex, fail_status, fail_sentence, fail_keep_alive);

  auto& res = rp->get();
  ex.status = ex.upstream_status = res.result_int();
  ex.upstream_host = target->host_header;
  note_outcome(c, *plan.route, ti, upstream::outcome_of_status(ex.status));

  if (plan.websocket && res.result() == http::status::switching_protocols) {
    co_await tunnel(c, ex, *up, res, *plan.route, idle);
    co_return false;
  }

  co_return co_await deliver_response(c, ex, *plan.route, up, client_keep_alive && !plan.websocket, is_head, client_version, idle,
                                      response_deadline, target->url);
}

void answer(Plan& p, unsigned status, std::string_view sentence, bool keep_alive) {
  p.kind = Plan::Kind::answer;
  p.status = status;
  p.sentence = sentence;
  p.keep_alive = keep_alive;
}

// Everything about a request that needs no I/O: validity, Postern's own endpoints, route, session, policy.
// When `p.kind` is endpoint, routing resumes with `route_request` if the endpoint declines.
void plan_request(Connection& c, RequestParser& parser, Plan& p) {
  auto& req = parser.get();
  Exchange& ex = c.exchange;
  const std::string_view target = req.target();
  const RequestFacts& facts = *p.facts;
  const bool keep_alive = facts.keep_alive && !c.worker.draining;
  const bool reusable = keep_alive && parser.is_done();  // a body we will not read leaves the connection unusable
  if (const char* problem = framing_problem(parser, facts)) return answer(p, 400, problem, false);
  if (ex.path == "/ping" || ex.path == "/healthz") {
    answer(p, 200, {}, reusable);
    p.content_type = "text/plain; charset=utf-8";
    p.body = "OK\n";
    return;
  }
  if (req.method() == http::verb::connect) {
    // CONNECT host:port: a TCP tunnel, if a tcp+https:// route names that host and port.
    const auto authority = core::parse_authority(target);
    if (!authority || !authority->port)
      return answer(p, 400, "CONNECT needs host:port.", false);
    p.route = c.shared.snapshot->routes.match_connect(authority->host, *authority->port);
    if (!p.route) return answer(p, 404, "There is no TCP route for this host and port.", false);
    ex.metrics_host = p.route->settings().from_host;
    ex.route = p.route->settings().from;
    p.connect = true;
    p.rc = RequestContext{authority->host, *authority->port, "/", target, false, true, false};
    p.kind = Plan::Kind::route;
    return;
  }
  if (target.empty() || target.front() != '/') return answer(p, 400, "The request target must be a path.", false);
  const auto host = config::parse_host_header(facts.host);
  if (!host) return answer(p, 400, "The request has a missing or invalid Host header.", false);
  const std::uint16_t port = host->port.value_or(c.stream.is_tls() ? 443 : 80);
  auto normalized = config::normalize_path(ex.path);
  if (!normalized)
    return answer(p, 400,
                  "The request path has an encoded slash or backslash (%2F, %5C), a backslash, a '#' or a malformed "
                  "escape.",
                  false);
  p.rc = RequestContext{host->host, port, std::move(*normalized), target, false, false, reusable};
  p.rc.on_authenticate_host = c.settings.authenticate_service_url.serves(host->host, port);
  p.rc.on_forward_auth_host = c.settings.forward_auth_url.serves(host->host, port);
  const auto match = c.shared.snapshot->routes.match(p.rc.host, port, p.rc.path);
  p.rc.host_known = match.host_known;
  p.route = match.route;
  if (p.route) {
    ex.metrics_host = p.route->settings().from_host;
    ex.route = p.route->settings().from;
  }
  else if (p.rc.on_authenticate_host) ex.metrics_host = c.settings.authenticate_service_url.host;
  else if (p.rc.on_forward_auth_host) ex.metrics_host = c.settings.forward_auth_url.host;
  p.websocket = wants_websocket(facts);
  const std::string& path = p.rc.path;
  const bool ours = path.starts_with("/.pomerium") || path.starts_with("/.well-known/pomerium") ||
                    (p.rc.on_authenticate_host && (path == "/oauth2/callback" || path == "/" || path == "/robots.txt")) ||
                    (p.rc.on_forward_auth_host && (path == "/verify" || path == "/"));
  p.kind = ours ? Plan::Kind::endpoint : Plan::Kind::route;
}

// Writes one `authorize check` line for a decision of `policy` (see telemetry/authorize_log.h).
void log_decision(Connection& c, const RequestParser::value_type& req, const Plan& p, const authz::Policy& policy,
                  const authz::Decision& d, std::string_view mode) {
  std::array<authz::Policy::ReasonText, 12> reasons;
  const std::size_t n = policy.explain(d, reasons, true);
  const session::Session* s = p.lookup.session.get();
  const core::StringSet* groups = s ? user_groups(c, *s) : nullptr;
  telemetry::AuthorizeRecord r;
  r.fields = c.shared.authorize_log_fields;
  r.request_id = c.exchange.request_id;
  r.method = req.method_string();
  r.path = p.rc.path;
  r.host = c.exchange.host;
  r.ip = c.exchange.client_ip;
  if (s) {
    r.user = s->user_id;
    r.email = s->email;
    r.groups_count = groups ? groups->size() : 0;
  }
  r.route = p.route->settings().from;
  r.decision = authz::to_string(d.outcome);
  r.allow = d.allow == authz::Tri::yes ? "true" : d.allow == authz::Tri::no ? "false" : "unknown";
  r.deny = d.deny == authz::Tri::yes ? "true" : d.deny == authz::Tri::no ? "false" : "unknown";
  r.mode = mode;
  r.reasons = std::span<const telemetry::ReasonText>(reasons.data(), n);
  c.worker.log_authorize(r);
}

// The route's policy for this request: who (the session, if any; its groups from the Okta directory or the
// `groups` claim) and the request's context. In report mode the report policy
// is evaluated and logged too, while the enforced one decides.
authz::Decision authorize(Connection& c, const RequestParser::value_type& req, const Plan& p) {
  const auto& rs = p.route->settings();
  const session::Session* s = p.lookup.session.get();
  authz::Subject subject;
  authz::Input in;
  if (s) {
    subject = {s->user_id, s->email, user_groups(c, *s), &s->claims};
    in.subject = &subject;
  }
  in.method = req.method_string();
  in.path = p.rc.path;
  const bool report = rs.report_policy != nullptr;
  if (rs.policy->uses_source_ip() || (report && rs.report_policy->uses_source_ip()))
    in.source_ip = core::parse_ip(c.exchange.client_ip);
  in.cors_preflight = req.method() == http::verb::options && p.facts->origin && p.facts->access_control_request_method;
  if (rs.policy->uses_time() || (report && rs.report_policy->uses_time())) in.now = std::chrono::system_clock::now();
  authz::ClientCertificate cert;
  if (c.client_certificate) {
    auto& pc = *c.client_certificate;
    cert = {true, net::client_certificate_valid(c.shared.mtls, pc, rs.index), pc.fingerprint, pc.spki_hash,
            pc.san_dns, pc.san_email, pc.san_uri};
    in.client_certificate = &cert;
  } else if (c.shared.mtls.enabled() && !net::client_certificate_required(c.shared.mtls, rs.index)) {
    cert.valid = true;  // no CA judges this route: nothing is invalid here (Pomerium's rule)
    in.client_certificate = &cert;
  }
  const auto decision = rs.policy->evaluate(in);
  log_decision(c, req, p, *rs.policy, decision, "enforce");
  if (report) log_decision(c, req, p, *rs.report_policy, rs.report_policy->evaluate(in), "report");
  return decision;
}

void decide_route(Connection& c, const RequestParser::value_type& req, Plan& p);

// The routing half of plan_request, for a request no endpoint took.
void route_request(Connection& c, RequestParser& parser, Plan& p) {
  auto& req = parser.get();
  if (!p.route) {
    return answer(p, 404,
                  p.rc.host_known ? "No route on this host matches the requested path."
                                  : "There is no route for this host.",
                  p.rc.keep_alive);
  }
  const auto& rs = p.route->settings();
  if (rs.needs_session()) {
    p.lookup = find_session(c, req);
    if (p.lookup.session && c.shared.auth->refresher &&
        p.lookup.session->tokens_expired(session::Clock::now())) {
      p.kind = Plan::Kind::refresh;  // handle_request refreshes (or waits for it), then decide_route
      return;
    }
  }
  decide_route(c, req, p);
}

// The route denies requests without a valid client certificate, and this connection has none.
bool missing_client_certificate(Connection& c, const config::RouteSettings& rs) {
  if (!rs.policy->uses(authz::CriterionKind::invalid_client_certificate)) return false;
  if (!net::client_certificate_required(c.shared.mtls, rs.index)) return false;
  return !c.client_certificate || !net::client_certificate_valid(c.shared.mtls, *c.client_certificate, rs.index);
}

// The rest of route_request, once the request's session (if any) is known and fresh.
void decide_route(Connection& c, const RequestParser::value_type& req, Plan& p) {
  const auto& rs = p.route->settings();
  const auto decision = authorize(c, req, p);
  c.exchange.decision = authz::to_string(decision.outcome);
  if (c.worker.metrics_enabled)
    c.worker.metrics.decision(decision.outcome == authz::Outcome::allow  ? telemetry::Decision::allow
                              : decision.outcome == authz::Outcome::deny ? telemetry::Decision::deny
                                                                         : telemetry::Decision::sign_in_required);
  if (decision.outcome == authz::Outcome::sign_in_required) {
    p.kind = Plan::Kind::sign_in;
  } else if (decision.outcome == authz::Outcome::deny && missing_client_certificate(c, rs)) {
    // Pomerium's answer for a route that needs a valid client certificate and did not get one.
    answer(p, 495, "This route needs a valid client certificate, and the connection presented none that Postern trusts.",
           p.rc.keep_alive);
  } else if (decision.outcome == authz::Outcome::deny) {
    p.kind = Plan::Kind::denied;
    p.decision = decision;
    p.keep_alive = p.rc.keep_alive;
  } else if (!p.route->has_upstream()) {
    answer(p, 501, "This route uses a feature Postern does not support yet.", p.rc.keep_alive);
  } else if (p.websocket && !rs.allow_websockets) {
    answer(p, 403, "Websocket connections are not allowed on this route.", p.rc.keep_alive);
  } else {
    p.kind = Plan::Kind::forward;
  }
}

// The 403 page for a request the policy denied: the request id and who is signed in; with show_error_details, why.
// A gRPC call Postern refuses gets a gRPC answer, not a page: HTTP 200 with only grpc-status and grpc-message (a
// "Trailers-Only" response; over HTTP/2 one HEADERS frame that ends the stream). 16 UNAUTHENTICATED when sign-in is
// needed, 7 PERMISSION_DENIED when the policy says no. The messages are plain ASCII without '%' (gRPC
// percent-encodes grpc-message).
awaitable<bool> send_grpc_status(Connection& c, Exchange& ex, unsigned code, std::string_view message, bool keep_alive) {
  LocalResponse res;
  res.result(http::status::ok);
  res.set(http::field::content_type, "application/grpc");
  res.set("grpc-status", code == 16 ? "16" : "7");
  res.set("grpc-message", message);
  co_return co_await send_response(c, ex, res, keep_alive);
}

awaitable<bool> send_denied(Connection& c, Exchange& ex, const Plan& p) {
  const auto& rs = p.route->settings();
  std::vector<std::string> details;
  if (rs.show_error_details) details = rs.policy->reasons(p.decision);
  const std::string_view email = p.lookup.session ? std::string_view(p.lookup.session->email) : std::string_view();
  auto page = portal::render_denied(ex.request_id, email, details, ex.json);
  co_return co_await send_local(c, ex, 403, {}, p.keep_alive, page.content_type, std::move(page.body));
}

// Tracing on: continues the client's trace (a valid traceparent; its sampled flag decides) or starts one (sampled
// by otel_traces_sampler_arg). A traced request's upstream receives a traceparent naming Postern's client span.
void begin_trace(telemetry::SpanSink& sink, const RequestParser::value_type& req, Exchange& ex) {
  ex.start_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  std::optional<telemetry::TraceParent> parent;
  if (const auto it = req.find("traceparent"); it != req.end()) parent = telemetry::parse_traceparent(it->value());
  bool sampled = false;
  if (parent) {
    ex.trace_id = parent->trace_id;
    ex.parent_id = parent->parent_id;
    sampled = parent->sampled;
  } else {
    core::random_id_bytes(ex.trace_id.data(), ex.trace_id.size());
    sampled = telemetry::sampled_by_ratio(ex.trace_id, sink.sample_ratio());
  }
  if (!sampled) return;  // an unsampled parent's traceparent goes upstream as the client sent it
  ex.traced = true;
  core::random_id_bytes(ex.span_id.data(), ex.span_id.size());
  core::random_id_bytes(ex.upstream_span_id.data(), ex.upstream_span_id.size());
  telemetry::format_traceparent(ex.traceparent, ex.trace_id, ex.upstream_span_id, true);
}

// Handles one request whose head has been read. Returns whether the connection may serve another. The decisions
// are made by plan_request/route_request; this coroutine only performs them, so its frame stays small (Asio
// recycles coroutine frames up to 1 KiB; larger ones cost an allocation per request).
awaitable<bool> handle_request(Connection& c, RequestParser& parser, Plan& p) {
  auto& req = parser.get();
  Exchange& ex = c.exchange;
  ex = Exchange{};
  ++c.worker.requests;
  c.worker.metrics.requests_active.add();
  struct Active {
    telemetry::Cell& cell;
    ~Active() { cell.sub(); }
  } active{c.worker.metrics.requests_active};
  p = Plan{};
  const RequestFacts& facts = p.facts.emplace(req);
  // Views into the request, which outlives the exchange (logged at the end of this coroutine).
  ex.protocol = c.h2 ? "HTTP/2" : req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
  ex.method = req.method_string();
  const std::string_view target = req.target();
  ex.path = target.substr(0, target.find('?'));
  if (acceptable_request_id(facts.request_id)) ex.request_id.assign(facts.request_id);
  else ex.request_id.generate();
  ex.json = portal::prefers_json(facts.accept);
  if (c.settings.xff_num_trusted_hops == 0) ex.client_ip = c.peer_ip;
  else ex.client_ip = ex.client_ip_text =
           effective_client_ip(facts.forwarded_for, c.peer_ip, c.settings.xff_num_trusted_hops);
  ex.host = facts.host;
  if (c.shared.tracer) begin_trace(*c.shared.tracer, req, ex);

  plan_request(c, parser, p);
  bool result = false;
  bool done = false;
  if (p.kind == Plan::Kind::endpoint) {
    if (auto handled = co_await handle_postern_endpoint(c, ex, req, p.rc)) {
      result = *handled;
      done = true;
      ex.answered_by_postern = true;
    } else {
      route_request(c, parser, p);
    }
  } else if (p.kind == Plan::Kind::route) {
    route_request(c, parser, p);
  }
  if (!done && p.kind == Plan::Kind::refresh) {
    // Its tokens have expired: refreshed now (or by whoever already is), else the request signs in again.
    p.lookup.session = co_await c.shared.auth->refresher->fresh(c.worker.pool, std::move(p.lookup.session));
    decide_route(c, req, p);
  }
  if (!done && (p.kind == Plan::Kind::sign_in || p.kind == Plan::Kind::denied) && p.rc.path == "/robots.txt") {
    // A route crawlers may not see keeps them out (as Pomerium does), instead of a sign-in redirect or a 403 page.
    result = co_await send_local(c, ex, 200, {}, p.rc.keep_alive, "text/plain", "User-agent: *\nDisallow: /\n");
    done = true;
  }
  if (!done) {
    switch (p.kind) {
      case Plan::Kind::sign_in:
        if (p.connect) result = co_await send_proxy_auth_required(c, ex);
        else if (facts.grpc)
          result = co_await send_grpc_status(c, ex, 16, "Unauthenticated: this route needs a signed-in user", p.rc.keep_alive);
        else result = co_await require_sign_in(c, ex, req, p.rc, p.lookup.programmatic);
        break;
      case Plan::Kind::forward:
        if (p.connect) result = co_await connect_tunnel(c, ex, p);
        else result = co_await forward(c, ex, parser, p, facts.keep_alive && !c.worker.draining);
        break;
      case Plan::Kind::denied:
        if (facts.grpc) result = co_await send_grpc_status(c, ex, 7, "Permission denied by the route's policy", p.keep_alive);
        else result = co_await send_denied(c, ex, p);
        break;
      default:
        result = co_await send_local(c, ex, p.status, p.sentence, p.keep_alive, p.content_type, std::string(p.body));
        break;
    }
  }
  p.lookup = {};
  log_exchange(c.worker, ex);
  co_return result && !c.worker.draining;
}

// Answers a request whose head could not be parsed, then the connection closes.
awaitable<void> reject_unparsable(Connection& c, const boost::system::error_code& ec) {
  Exchange ex;
  ex.request_id.generate();
  ex.client_ip = c.peer_ip;
  const bool too_large = ec == http::error::header_limit || ec == http::error::buffer_overflow;
  co_await send_local(c, ex, too_large ? 431 : 400,
                      too_large ? "The request's header block is larger than 64 KiB."
                                : "The request could not be parsed as HTTP/1.1.",
                      false);
  log_exchange(c.worker, ex);
}

}  // namespace

awaitable<void> serve_exchange(Connection& c, RequestParser& parser) {
  Plan plan;
  co_await handle_request(c, parser, plan);
}

void WorkerContext::make_balancers() {
  const auto& routes = shared->snapshot->settings.routes;
  auto made = std::make_shared<std::vector<upstream::Balancer>>();
  made->reserve(routes.size());
  std::uint64_t seed = 0;
  const std::string bytes = core::random_bytes(sizeof seed);
  std::memcpy(&seed, bytes.data(), sizeof seed);
  for (std::size_t i = 0; i < routes.size(); ++i)
    made->emplace_back(routes[i], shared->upstream_health ? &shared->upstream_health->route(i) : nullptr, seed + i);
  balancers = std::move(made);
}

void WorkerContext::adopt(std::shared_ptr<const Shared> next) {
  shared = std::move(next);
  make_balancers();
  metrics_enabled = shared->snapshot->settings.metrics.address.has_value();
  pool.clear();  // idle connections of the old configuration's keys would never be taken again
  h2_upstreams.clear();  // HTTP/2 ones finish their streams first
}

void WorkerContext::log_access(const telemetry::AccessRecord& record) { schedule_flush(access_log.append(record)); }

void WorkerContext::log_authorize(const telemetry::AuthorizeRecord& record) {
  schedule_flush(access_log.append(record));
}

void WorkerContext::schedule_flush(bool buffer_was_empty) {
  if (!buffer_was_empty || flush_scheduled) return;
  flush_scheduled = true;
  access_log_timer.expires_after(access_log_flush_interval);
  access_log_timer.async_wait([this](boost::system::error_code) {
    flush_scheduled = false;
    access_log.flush();
  });
}

awaitable<void> serve_connection(WorkerContext& worker, net::Socket socket) {
  // The configuration this connection serves with: the newest at accept, then at each request boundary (a reload
  // between two requests applies to the second). Held while a request runs, so a reload never pulls it away.
  auto shared = worker.shared;
  auto balancers = worker.balancers;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  std::optional<net::Stream> stream;
  if (shared->server_tls) stream.emplace(worker.watchdog, std::move(socket), shared->server_tls->default_context());
  else stream.emplace(worker.watchdog, std::move(socket));
  ++worker.connections;
  worker.metrics.connections.add();
  struct Count {
    WorkerContext& w;
    ~Count() {
      --w.connections;
      w.metrics.connections.sub();
    }
  } count{worker};

  std::shared_ptr<net::PeerCertificate> client_certificate;
  if (stream->is_tls()) {
    stream->expire_after(net::timeouts::tls_handshake, "tls handshake");
    auto [hec] = co_await stream->tls()->async_handshake(asio::ssl::stream_base::server, nothrow);
    if (hec) co_return;
    if (shared->mtls.enabled()) {
      client_certificate = net::read_peer_certificate(stream->tls()->native_handle());
      // reject_connection: the handshake already demanded a chain to the bundle; the SAN rules are checked here.
      if (shared->mtls.enforcement == config::DownstreamMtlsSettings::Enforcement::reject_connection &&
          (!client_certificate || !shared->mtls.handshake->verify(*client_certificate))) {
        stream->close();
        co_return;
      }
    }
    const unsigned char* alpn = nullptr;
    unsigned alpn_size = 0;
    SSL_get0_alpn_selected(stream->tls()->native_handle(), &alpn, &alpn_size);
    if (alpn_size == 2 && alpn[0] == 'h' && alpn[1] == '2') {
      co_await serve_h2_connection(worker, *stream, shared, balancers, remote.address().to_string(),
                                   std::move(client_certificate), {});
      co_return;
    }
  }

  // The read buffer is the header limit: a head that does not fit fails with buffer_overflow (431).
  beast::flat_buffer buffer(header_limit);
  std::optional<Connection> conn;
  conn.emplace(worker, *shared, shared->snapshot->settings, *balancers, *stream, buffer, remote.address().to_string());
  conn->client_certificate = std::move(client_certificate);
  Plan plan;  // per request, kept in this once-per-connection frame
  bool first = true;
  while (!worker.draining || first) {
    if (worker.shared != shared) {
      // A reload happened: the next request sees the new configuration. The certificate stays; its verdicts were
      // per route of the old one.
      auto certificate = std::move(conn->client_certificate);
      if (certificate) certificate->verdicts.clear();
      auto next = worker.shared;
      auto next_balancers = worker.balancers;
      std::string peer = std::move(conn->peer_ip);
      plan = Plan{};
      conn.emplace(worker, *next, next->snapshot->settings, *next_balancers, *stream, buffer, std::move(peer));
      conn->client_certificate = std::move(certificate);
      shared = std::move(next);
      balancers = std::move(next_balancers);
    }
    Connection& c = *conn;
    const auto& settings = c.settings;
    if (buffer.size() == 0) {
      // Between requests: wait for the next one's first byte under the idle timeout.
      stream->set_idle(!first);
      if (first) stream->expire_after(settings.timeout_read, "request header read");
      else stream->expire_after(settings.timeout_idle, "keep-alive idle");
      auto [rec, n] = co_await stream->async_read_some(buffer.prepare(head_read_size), nothrow);
      stream->set_idle(false);
      if (rec) break;
      buffer.commit(n);
      if (first && !stream->is_tls() &&
          starts_h2_preface({static_cast<const char*>(buffer.data().data()), buffer.size()})) {
        // HTTP/2 with prior knowledge (h2c): the preface (and whatever followed) goes to the HTTP/2 session.
        std::string preread(static_cast<const char*>(buffer.data().data()), buffer.size());
        buffer.consume(buffer.size());
        conn.reset();
        co_await serve_h2_connection(worker, *stream, shared, balancers, remote.address().to_string(), nullptr,
                                     std::move(preread));
        co_return;
      }
    }
    stream->expire_after(settings.timeout_read, "request header read");
    // Everything this request allocates for headers comes from the connection's arena, released at its end.
    auto arena_lease = worker.arena_buffers.lease();
    std::pmr::monotonic_buffer_resource arena(arena_lease.get(), decltype(worker.arena_buffers)::size,
                                              std::pmr::new_delete_resource());
    c.arena = &arena;
    struct RequestScratch {  // hands the scratch back to the worker when the request ends
      Connection& c;
      ~RequestScratch() {
        c.response_parser.reset();  // allocated from the arena below: goes first
        c.arena = std::pmr::new_delete_resource();
        c.relay = {};
      }
    } scratch{c};
    RequestParser parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(&arena)));
    parser.header_limit(header_limit);
    parser.body_limit(boost::none);
    boost::system::error_code hec;
    std::size_t consumed = 0;
    if (!try_parse_head(buffer, parser, consumed, hec)) hec = co_await read_head(*stream, buffer, parser, consumed);
    if (hec) {
      if (stream->expired_by() || hec == http::error::end_of_stream || hec == asio::error::eof ||
          hec == asio::error::connection_reset || hec == asio::error::operation_aborted) {
        if (stream->expired_by())
          telemetry::log(telemetry::Level::debug, "closing connection", {{"reason", stream->expired_by()},
                                                                          {"client_ip", c.peer_ip}});
        break;
      }
      co_await reject_unparsable(c, hec);
      break;
    }
    if (!co_await handle_request(c, parser, plan)) break;
    first = false;
  }
  stream->close();
}

}  // namespace postern::proxy
