#include "proxy/h2_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include <functional>
#include <memory_resource>
#include <unordered_map>

#include "http2/server_session.h"
#include "proxy/connection.h"
#include "proxy/message_reader.h"
#include "telemetry/log.h"

namespace postern::proxy {
namespace asio = boost::asio;

class H2Connection;

struct H2Stream {
  H2Stream(H2Connection& c, std::int32_t stream_id, net::Executor ex)
      : conn(c), id(stream_id), wake(ex), read_wake(ex) {}
  H2Connection& conn;
  std::int32_t id;
  http2::Request request;
  std::string body;       // request body bytes received and not yet taken
  bool body_end = false;  // the client ended its body
  bool closed = false;    // the stream is gone
  std::uint32_t close_code = 0;
  bool responded = false;
  bool discarding = false;  // the rest of the request body is not wanted
  // The response writer waits for room on `wake`, the request body reader for bytes on `read_wake` (the two may
  // wait at once when an upstream exchange streams both ways; each wait re-arms only its own timer).
  net::Timer wake;
  bool waiting = false;
  net::Timer read_wake;
  bool read_waiting = false;
  std::function<void()> on_close;  // the exchange's upstream stream, told when the client resets this one
  void notify() {
    if (waiting) wake.cancel();
  }
  void notify_read() {
    if (read_waiting) read_wake.cancel();
  }
  void notify_closed() {
    notify();
    notify_read();
    if (on_close) on_close();
  }
};

class H2Connection final : public http2::ServerSession::Handler {
 public:
  H2Connection(WorkerContext& w, net::Stream& s, std::shared_ptr<const Shared> sh,
               std::shared_ptr<std::vector<upstream::Balancer>> b, std::string peer,
               std::shared_ptr<net::PeerCertificate> cert)
      : worker(w), stream(s), shared(std::move(sh)), balancers(std::move(b)), peer_ip(std::move(peer)),
        client_certificate(std::move(cert)), session(*this, http2::Limits{}),
        write_wake(s.get_executor()) {}

  WorkerContext& worker;
  net::Stream& stream;
  std::shared_ptr<const Shared> shared;
  std::shared_ptr<std::vector<upstream::Balancer>> balancers;
  std::string peer_ip;
  std::shared_ptr<net::PeerCertificate> client_certificate;
  http2::ServerSession session;
  std::unordered_map<std::int32_t, std::shared_ptr<H2Stream>> streams;
  std::size_t running = 0;  // stream coroutines not yet finished (the connection outlives them)
  net::Timer write_wake;
  bool writer_waiting = false;
  bool writing = false;  // a write is in progress (it owns the stream's deadline)
  bool done = false;  // the connection is over: stream coroutines stop waiting

  void flush() {
    if (writer_waiting) write_wake.cancel();
  }
  bool drained = false;  // GOAWAY sent for a graceful shutdown
  // The connection's deadline and idle mark follow its streams: with none open (and no write in progress) it is idle
  // — timed out after timeout_idle, and closed first by a graceful shutdown (Watchdog::expire_idle); while streams
  // run, their own upstream and write deadlines apply.
  void update_idle() {
    if (writing) return;  // the write's deadline stands; the writer calls this when it is done
    const auto& settings = shared->snapshot->settings;
    if (streams.empty()) {
      stream.set_idle(true);
      stream.expire_after(drained ? std::chrono::steady_clock::duration(std::chrono::seconds(1))
                                  : std::chrono::steady_clock::duration(settings.timeout_idle),
                          "h2 idle");
    } else {
      stream.set_idle(false);
      stream.expire_never();
    }
  }

  void on_request(std::int32_t id, http2::Request request) override;
  void on_body(std::int32_t id, std::string_view bytes) override {
    if (auto it = streams.find(id); it != streams.end()) {
      it->second->body.append(bytes);
      it->second->notify_read();
    }
  }
  void on_body_end(std::int32_t id) override {
    if (auto it = streams.find(id); it != streams.end()) {
      it->second->body_end = true;
      it->second->notify_read();
    }
  }
  void on_closed(std::int32_t id, std::uint32_t code) override {
    if (auto it = streams.find(id); it != streams.end()) {
      it->second->closed = true;
      it->second->close_code = code;
      it->second->notify_closed();
      streams.erase(it);
      if (streams.empty()) update_idle();
    }
  }
  void on_body_room(std::int32_t id) override {
    if (auto it = streams.find(id); it != streams.end()) it->second->notify();
  }

  net::Task<void> serve_stream(std::shared_ptr<H2Stream> s);
  net::Task<void> writer();
};

namespace {

constexpr std::size_t read_size = 16 * 1024;

// Waits until `ready()` or `timer` fires after `timeout` (`waiting` marks the wait). Returns ready().
template <class Ready>
net::Task<bool> wait_for(H2Stream& s, net::Timer& timer, bool& waiting, Ready ready,
                         std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (s.closed || s.conn.done || std::chrono::steady_clock::now() >= deadline) co_return ready();
    timer.expires_at(deadline);
    waiting = true;
    co_await timer.async_wait(net::nothrow);
    waiting = false;
  }
  co_return true;
}

// The request head Beast would have read over HTTP/1.1, from the stream's header block.
std::string http1_request_head(const http2::Request& r) {
  std::string head;
  head.reserve(256);
  head += r.method;
  head += ' ';
  head += r.path;
  head += " HTTP/1.1\r\nhost: ";
  head += r.authority;
  head += "\r\n";
  bool has_length = false;
  for (const auto& f : r.fields) {
    if (f.name == "expect") continue;  // no 100-continue in HTTP/2: the client sends its body at once
    if (f.name == "content-length") has_length = true;
    head += f.name;
    head += ": ";
    head += f.value;
    head += "\r\n";
  }
  // A body of unknown length (no content-length) travels chunked to HTTP/1.1 upstreams.
  if (r.has_body && !has_length) head += "transfer-encoding: chunked\r\n";
  head += "\r\n";
  return head;
}

// A short plain-text answer on the stream itself (before any exchange code runs). A plain function, not a
// coroutine: GCC 12 miscompiles braced initializer lists inside coroutines (a crash seen here), and a body this small
// always fits the stream's fresh 64 KiB buffer.
void answer_plain(H2Stream& s, unsigned status, std::string_view body);

}  // namespace

bool starts_h2_preface(std::string_view bytes) {
  const std::string_view preface = http2::client_preface;
  const std::size_t n = std::min(bytes.size(), preface.size());
  return n >= 3 && bytes.substr(0, n) == preface.substr(0, n);
}

void h2_respond(H2Stream& s, unsigned status, std::vector<http2::Field> fields, bool has_body) {
  if (s.closed || s.responded) return;
  s.responded = true;
  s.conn.session.respond(s.id, status, fields, has_body);
  s.conn.flush();
}

net::Task<bool> h2_write_body(H2Stream& s, std::string_view bytes, std::chrono::steady_clock::duration timeout) {
  while (!bytes.empty()) {
    const bool room = co_await wait_for(
        s, s.wake, s.waiting, [&s] { return s.closed || s.conn.done || s.conn.session.body_room(s.id) > 0; },
        timeout);
    if (s.closed || s.conn.done) co_return false;
    if (!room) {
      h2_reset(s, 0x8);  // CANCEL: the client left its window closed for longer than the write timeout
      co_return false;
    }
    const std::size_t n = std::min(bytes.size(), s.conn.session.body_room(s.id));
    s.conn.session.send_body(s.id, bytes.substr(0, n));
    bytes.remove_prefix(n);
    s.conn.flush();
  }
  co_return true;
}

void h2_end_body(H2Stream& s, std::span<const http2::Field> trailers) {
  if (s.closed) return;
  s.conn.session.end_body(s.id, trailers);
  s.conn.flush();
}

void h2_discard_body(H2Stream& s) {
  if (s.discarding) return;
  s.discarding = true;
  if (!s.body.empty()) s.conn.session.consumed(s.id, s.body.size());
  s.body.clear();
  if (s.closed) return;
  s.conn.session.discard_body(s.id);
  s.conn.flush();
  s.notify_read();
}

bool h2_closed(const H2Stream& s) { return s.closed || s.conn.done; }

void h2_on_close(H2Stream& s, std::function<void()> f) { s.on_close = std::move(f); }

void h2_reset(H2Stream& s, std::uint32_t error_code) {
  if (s.closed) return;
  s.conn.session.reset(s.id, error_code);
  s.conn.flush();
}

net::Task<bool> h2_read_body(H2Stream& s, std::string& out, bool& end, std::chrono::steady_clock::duration timeout) {
  const bool ready = co_await wait_for(s, s.read_wake, s.read_waiting,
                                      [&s] { return !s.body.empty() || s.body_end || s.closed || s.discarding; },
                                      timeout);
  if (s.discarding) co_return false;
  if (!ready || (s.closed && s.body.empty() && !s.body_end)) co_return false;
  const std::size_t n = s.body.size();
  out.append(s.body);
  s.body.clear();
  end = s.body_end;
  if (n > 0) {
    s.conn.session.consumed(s.id, n);  // also once closed: the connection's window needs the bytes back
    s.conn.flush();
  }
  co_return true;
}

namespace {

void answer_plain(H2Stream& s, unsigned status, std::string_view body) {
  std::vector<http2::Field> fields;
  fields.push_back({"content-type", "text/plain; charset=utf-8"});
  fields.push_back({"content-length", std::to_string(body.size())});
  h2_respond(s, status, std::move(fields), true);
  if (s.closed) return;
  s.conn.session.send_body(s.id, body);
  h2_end_body(s);
}

}  // namespace

void H2Connection::on_request(std::int32_t id, http2::Request request) {
  auto s = std::make_shared<H2Stream>(*this, id, stream.get_executor());
  s->request = std::move(request);
  streams.emplace(id, s);
  if (streams.size() == 1) update_idle();
  ++running;
  asio::co_spawn(stream.get_executor(), serve_stream(std::move(s)), asio::detached);
}

net::Task<void> H2Connection::serve_stream(std::shared_ptr<H2Stream> s) {
  struct Running {
    H2Connection& c;
    ~Running() {
      --c.running;
      c.flush();  // the writer notices when the last one ends
    }
  } running_guard{*this};
  const auto& settings = shared->snapshot->settings;
  if (s->request.method == "CONNECT") {
    // TCP routes are reached with HTTP/1.1 CONNECT (as pomerium-cli does); HTTP/2 tunnels are not offered.
    answer_plain(*s, 405, "CONNECT needs HTTP/1.1 here.\n");
    co_return;
  }
  // The request as Beast would have parsed it, in this request's arena.
  auto arena_lease = worker.arena_buffers.lease();
  std::pmr::monotonic_buffer_resource arena(arena_lease.get(), decltype(worker.arena_buffers)::size,
                                            std::pmr::new_delete_resource());
  RequestParser parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(&arena)));
  parser.header_limit(header_limit + 1024);
  parser.body_limit(boost::none);
  const std::string head = http1_request_head(s->request);
  boost::system::error_code ec;
  parser.put(asio::buffer(head), ec);
  if (ec || !parser.is_header_done()) {
    answer_plain(*s, 400, "The request could not be read.\n");
    co_return;
  }
  boost::beast::flat_buffer unused;  // HTTP/1.1's read buffer: the body comes through the stream instead
  Connection c{worker, *shared, settings, *balancers, stream, unused, peer_ip};
  c.client_certificate = client_certificate;
  c.h2 = s.get();
  c.arena = &arena;
  struct Scratch {
    Connection& c;
    ~Scratch() {
      c.response_parser.reset();
      c.arena = std::pmr::new_delete_resource();
      c.relay = {};
    }
  } scratch{c};
  co_await serve_exchange(c, parser);
  if (!s->closed && !s->responded) {
    // Every path answers; should one not have, the stream must not hang.
    h2_reset(*s, 0x2);  // INTERNAL_ERROR
  }
  // A body the exchange did not read (an answer from Postern itself, a refused request): its bytes go back to the
  // connection's window, and the rest of it is dropped as it comes.
  h2_discard_body(*s);
}

net::Task<void> H2Connection::writer() {
  std::string out;
  while (true) {
    out.clear();
    if (!session.collect_output(out)) break;
    if (out.empty()) {
      if (session.finished() || (done && running == 0)) break;
      write_wake.expires_at(net::Timer::time_point::max());
      writer_waiting = true;
      co_await write_wake.async_wait(net::nothrow);
      writer_waiting = false;
      continue;
    }
    stream.expire_after(write_timeout(shared->snapshot->settings), "response write");
    writing = true;
    stream.set_idle(false);
    auto [wec, n] = co_await asio::async_write(stream, asio::buffer(out), net::nothrow);
    writing = false;
    if (wec) break;
    update_idle();
  }
  done = true;
  stream.close();
  for (auto& [id, s] : streams) s->notify_closed();
}

net::Task<void> serve_h2_connection(WorkerContext& worker, net::Stream& stream, std::shared_ptr<const Shared> shared,
                                    std::shared_ptr<std::vector<upstream::Balancer>> balancers, std::string peer_ip,
                                    std::shared_ptr<net::PeerCertificate> client_certificate, std::string preread) {
  auto conn = std::make_shared<H2Connection>(worker, stream, shared, std::move(balancers), std::move(peer_ip),
                                             std::move(client_certificate));
  H2Connection& h = *conn;
  bool writer_done = false;
  asio::co_spawn(stream.get_executor(),
                 [conn, &writer_done]() -> net::Task<void> {
                   co_await conn->writer();
                   writer_done = true;
                 },
                 asio::detached);
  bool alive = preread.empty() || h.session.receive(preread);
  h.flush();
  std::string buf(read_size, '\0');
  while (alive && !h.done) {
    if (worker.draining && !h.drained) {
      h.drained = true;
      h.session.drain();
      h.flush();
    }
    h.update_idle();
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), net::nothrow);
    if (ec) break;
    alive = h.session.receive(std::string_view(buf.data(), n));
    h.flush();
  }
  if (!h.session.failure().empty())
    telemetry::log(telemetry::Level::debug, "closing HTTP/2 connection", {{"reason", std::string(h.session.failure())},
                                                                          {"client_ip", h.peer_ip}});
  // Reading is over: let the writer send what is queued (a GOAWAY), then end the connection.
  h.done = true;
  for (auto& [id, s] : h.streams) s->notify_closed();
  h.flush();
  net::Timer wait(stream.get_executor());
  while (!writer_done || h.running > 0) {
    wait.expires_after(std::chrono::milliseconds(20));
    co_await wait.async_wait(net::nothrow);
  }
  stream.close();
}

}  // namespace postern::proxy
