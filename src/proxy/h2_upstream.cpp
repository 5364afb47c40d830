#include "proxy/h2_upstream.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <unordered_set>

#include "http2/client_session.h"
#include "net/timeouts.h"

namespace postern::proxy {
namespace asio = boost::asio;

// One HTTP/2 connection to an upstream: the codec, its socket, and the streams open on it. Kept alive by its two
// coroutines (and by its streams); the pool holds it while new streams may go to it.
class H2UpstreamConnection final : public http2::ClientSession::Handler,
                                   public std::enable_shared_from_this<H2UpstreamConnection> {
 public:
  H2UpstreamConnection(H2UpstreamPool& pool, std::unique_ptr<net::UpstreamConnection> up)
      : pool_(&pool), up_(std::move(up)), session_(*this), write_wake_(up_->stream.get_executor()) {}

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(up_->stream.get_executor(), [self]() { return self->reader(); }, asio::detached);
    asio::co_spawn(up_->stream.get_executor(), [self]() { return self->writer(); }, asio::detached);
    flush();  // the connection preface and SETTINGS
  }

  [[nodiscard]] std::uint64_t key() const { return up_->key; }
  [[nodiscard]] bool can_open() const { return !dead_ && !closing_ && session_.can_open(); }

  void flush() {
    if (writer_waiting_) write_wake_.cancel();
  }

  // The connection's deadline follows its streams: with none open (and no write in progress) it is idle, closed
  // after upstream_keepalive (and first by a graceful shutdown); while streams run, their own deadlines apply. A
  // connection that can take no new stream (GOAWAY received, or retired by a reload) closes when its last ends.
  void update_idle() {
    if (writing_ || dead_) return;
    if (streams_.empty()) {
      if (!session_.accepting()) {
        // Nothing more will go on this connection: the writer sends what is queued (our GOAWAY), then closes it.
        closing_ = true;
        flush();
        return;
      }
      up_->stream.set_idle(true);
      up_->stream.expire_after(net::timeouts::upstream_keepalive, "upstream keep-alive");
    } else {
      up_->stream.set_idle(false);
      up_->stream.expire_never();
    }
  }

  // The connection is over: every stream still open is closed (INTERNAL_ERROR unless it had its answer), the
  // socket closed, the pool told.
  void die() {
    if (dead_) return;
    dead_ = true;
    auto open = std::move(streams_);
    streams_.clear();
    for (auto& [id, s] : open) {
      s->closed = true;
      if (!s->ended && s->close_code == 0) s->close_code = 0x2;
      s->notify_response();
      s->notify_request();
    }
    if (pool_ != nullptr) pool_->forget(this);
    up_->stream.close();
    flush();
  }

  void retire() {
    if (dead_) return;
    session_.shutdown();
    flush();
    update_idle();
  }

  // ClientSession::Handler
  void on_response(std::int32_t id, unsigned status, std::vector<http2::Field> fields) override {
    if (auto* s = find(id)) {
      s->has_head = true;
      s->status = status;
      s->fields = std::move(fields);
      s->notify_response();
    }
  }
  void on_body(std::int32_t id, std::string_view bytes) override {
    if (auto* s = find(id)) {
      s->body.append(bytes);
      s->notify_response();
    } else {
      session_.consumed(id, bytes.size());  // a stream the exchange dropped: nobody reads it
    }
  }
  void on_trailers(std::int32_t id, std::vector<http2::Field> fields) override {
    if (auto* s = find(id)) {
      s->trailers = std::move(fields);
      s->notify_response();
    }
  }
  void on_end(std::int32_t id) override {
    if (auto* s = find(id)) {
      s->ended = true;
      s->notify_response();
    }
  }
  void on_closed(std::int32_t id, std::uint32_t code) override {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    H2UpstreamStream* s = it->second;
    streams_.erase(it);
    s->closed = true;
    s->close_code = code;
    s->notify_response();
    s->notify_request();
    if (streams_.empty()) update_idle();
  }
  void on_body_room(std::int32_t id) override {
    if (auto* s = find(id)) s->notify_request();
  }

 private:
  friend class H2UpstreamStream;
  friend class H2UpstreamPool;

  H2UpstreamStream* find(std::int32_t id) const {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  }

  net::Task<void> reader() {
    static constexpr std::size_t read_size = 16 * 1024;
    std::string buf(read_size, '\0');
    while (!dead_) {
      update_idle();
      auto [ec, n] = co_await up_->stream.async_read_some(asio::buffer(buf), net::nothrow);
      if (ec || dead_) break;
      const bool alive = session_.receive(std::string_view(buf.data(), n));
      flush();
      if (!alive) break;
    }
    die();
  }

  net::Task<void> writer() {
    std::string out;
    while (true) {
      out.clear();
      if (!session_.collect_output(out)) break;
      if (out.empty()) {
        if (dead_ || closing_) break;
        write_wake_.expires_at(net::Timer::time_point::max());
        writer_waiting_ = true;
        co_await write_wake_.async_wait(net::nothrow);
        writer_waiting_ = false;
        continue;
      }
      writing_ = true;
      up_->stream.set_idle(false);
      up_->stream.expire_after(net::timeouts::upstream_h2_write, "upstream write");
      auto [ec, n] = co_await asio::async_write(up_->stream, asio::buffer(out), net::nothrow);
      writing_ = false;
      if (ec) break;
      update_idle();
    }
    die();
  }

  H2UpstreamPool* pool_;  // null once the pool forgot this connection
  std::unique_ptr<net::UpstreamConnection> up_;
  http2::ClientSession session_;
  std::unordered_map<std::int32_t, H2UpstreamStream*> streams_;
  net::Timer write_wake_;
  bool writer_waiting_ = false;
  bool writing_ = false;
  bool dead_ = false;
  bool closing_ = false;  // no stream left and none may open: close once the output is written
};

// ---- H2UpstreamStream ----

H2UpstreamStream::H2UpstreamStream(std::shared_ptr<H2UpstreamConnection> connection, net::Executor ex)
    : conn_(std::move(connection)), response_wake_(ex), request_wake_(ex) {}

H2UpstreamStream::~H2UpstreamStream() {
  if (!conn_ || id_ < 0) return;
  if (!body.empty()) {
    conn_->session_.consumed(id_, body.size());  // received, never delivered: the connection's window needs it
    conn_->flush();
  }
  if (!closed) {
    conn_->streams_.erase(id_);
    if (!cancelled_) conn_->session_.reset(id_, 0x8);  // CANCEL: nobody wants the rest
    conn_->flush();
    if (conn_->streams_.empty()) conn_->update_idle();
  }
}

net::Task<bool> H2UpstreamStream::wait_response(Clock::time_point deadline) {
  if (closed || Clock::now() >= deadline) co_return closed;
  response_wake_.expires_at(deadline);
  response_waiting_ = true;
  auto [ec] = co_await response_wake_.async_wait(net::nothrow);
  response_waiting_ = false;
  // Cancelled: something arrived. Expired: the deadline (unless the stream closed meanwhile).
  co_return ec == asio::error::operation_aborted || closed;
}

void H2UpstreamStream::take_body(std::string& out) {
  const std::size_t n = body.size();
  if (n == 0) return;
  out.append(body);
  body.clear();
  conn_->session_.consumed(id_, n);  // closed or not: the connection's window needs the bytes back
  conn_->flush();
}

net::Task<bool> H2UpstreamStream::write_body(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    if (closed || cancelled_) co_return false;
    const std::size_t room = conn_->session_.body_room(id_);
    if (room == 0) {
      if (Clock::now() >= deadline) co_return false;
      request_wake_.expires_at(deadline);
      request_waiting_ = true;
      co_await request_wake_.async_wait(net::nothrow);
      request_waiting_ = false;
      continue;
    }
    const std::size_t n = std::min(room, bytes.size());
    conn_->session_.send_body(id_, bytes.substr(0, n));
    bytes.remove_prefix(n);
    conn_->flush();
  }
  co_return true;
}

void H2UpstreamStream::end_body() {
  if (closed || cancelled_) return;
  conn_->session_.end_body(id_);
  conn_->flush();
}

void H2UpstreamStream::reset(std::uint32_t error_code) {
  if (closed || cancelled_) return;
  cancelled_ = true;
  conn_->session_.reset(id_, error_code);
  conn_->flush();
  notify_request();
  notify_response();
}

// ---- H2UpstreamPool ----

H2UpstreamPool::~H2UpstreamPool() { shutdown(); }

bool H2UpstreamPool::knows(const net::UpstreamEndpoint& endpoint) const {
  auto it = by_key_.find(endpoint.pool_key);
  return it != by_key_.end() && !it->second.empty();
}

std::shared_ptr<H2UpstreamConnection> H2UpstreamPool::with_room(std::uint64_t key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return nullptr;
  // The fullest connection with room first: streams gather on few connections, and idle ones can expire.
  std::shared_ptr<H2UpstreamConnection> best;
  for (const auto& c : it->second)
    if (c->can_open() && (!best || c->session_.open_streams() > best->session_.open_streams())) best = c;
  return best;
}

std::shared_ptr<H2UpstreamConnection> H2UpstreamPool::adopt(std::unique_ptr<net::UpstreamConnection> conn) {
  conn->h2 = true;
  conn->stream.expire_never();
  auto c = std::make_shared<H2UpstreamConnection>(*this, std::move(conn));
  by_key_[c->key()].push_back(c);
  c->start();
  return c;
}

void H2UpstreamPool::forget(H2UpstreamConnection* c) {
  c->pool_ = nullptr;
  auto it = by_key_.find(c->key());
  if (it == by_key_.end()) return;
  auto& list = it->second;
  std::erase_if(list, [c](const auto& p) { return p.get() == c; });
  if (list.empty()) by_key_.erase(it);
}

net::Task<net::AcquireResult> H2UpstreamPool::ready(const net::UpstreamEndpoint& endpoint,
                                                    std::unique_ptr<net::UpstreamConnection> fresh) {
  net::AcquireResult result;
  const std::uint64_t key = endpoint.pool_key;
  const auto deadline = H2UpstreamStream::Clock::now() + net::timeouts::upstream_connect;
  const auto deadline_passed = [&] { return H2UpstreamStream::Clock::now() >= deadline; };
  const auto timed_out = [&] {
    result.failure = "connect";
    result.timed_out = true;
    result.error = asio::error::timed_out;
  };
  if (fresh) adopt(std::move(fresh));
  while (true) {
    if (with_room(key)) co_return result;
    if (auto it = connecting_.find(key); it != connecting_.end()) {
      // Another request is opening a connection to this endpoint: wait for it rather than open one more.
      if (deadline_passed()) {
        timed_out();
        co_return result;
      }
      auto done = it->second;  // only the opener sets its expiry (waiters never re-arm a shared timer)
      if (done->expiry() > H2UpstreamStream::Clock::now()) {
        co_await done->async_wait(net::nothrow);
      } else {
        // The opener's deadline passed while its attempt is still ending (the watchdog's tick): look again shortly
        // rather than spin on an expired timer.
        net::Timer later(executor_);
        later.expires_after(std::chrono::milliseconds(20));
        co_await later.async_wait(net::nothrow);
      }
      continue;
    }
    const auto open_now = by_key_.find(key);
    if (open_now != by_key_.end() && open_now->second.size() >= max_connections_per_key) {
      // Every allowed connection is full: look again shortly, until the connect deadline.
      if (deadline_passed()) {
        timed_out();
        co_return result;
      }
      net::Timer later(executor_);
      later.expires_after(std::chrono::milliseconds(50));
      co_await later.async_wait(net::nothrow);
      continue;
    }
    auto& opening = connecting_[key];
    opening = std::make_shared<net::Timer>(executor_);
    opening->expires_at(deadline);  // the attempt's own deadline bounds the waiters' wait too
    // However the attempt ends (an exception included), the waiters are released and the next may try.
    struct Opened {
      Opened(std::unordered_map<std::uint64_t, std::shared_ptr<net::Timer>>& c, std::uint64_t k)
          : connecting(c), key(k) {}
      std::unordered_map<std::uint64_t, std::shared_ptr<net::Timer>>& connecting;
      std::uint64_t key;
      ~Opened() {
        if (auto it = connecting.find(key); it != connecting.end()) {
          auto done = it->second;
          connecting.erase(it);
          done->cancel();  // the waiters look for room on the new connection (or open their own)
        }
      }
    };
    std::optional<Opened> opened;
    opened.emplace(connecting_, key);
    auto acquired = co_await connector_.acquire(endpoint, /*fresh=*/true);
    opened.reset();
    if (!acquired.connection) co_return acquired;  // why it failed
    if (endpoint.target->tls() && !acquired.connection->h2) co_return acquired;  // the upstream chose HTTP/1.1
    adopt(std::move(acquired.connection));
  }
}

net::Task<H2Open> H2UpstreamPool::open(const net::UpstreamEndpoint& endpoint, const H2RequestHead& head,
                                       std::unique_ptr<net::UpstreamConnection> fresh) {
  H2Open result;
  // A connection with room can be taken by other requests while this one waits for its own: look again (each
  // round either finds room, opens a connection or fails by the connect deadline).
  for (int round = 0; round < 8; ++round) {
    auto ready_result = co_await ready(endpoint, std::move(fresh));
    if (ready_result.failure || ready_result.connection) {
      result.failure = std::move(ready_result);
      co_return result;
    }
    auto c = with_room(endpoint.pool_key);
    if (!c) continue;
    auto s = std::make_shared<H2UpstreamStream>(c, c->up_->stream.get_executor());
    s->id_ = c->session_.request(head.method, head.scheme, head.authority, head.path, head.fields, head.has_body);
    if (s->id_ < 0) {
      // The connection cannot take this stream after all (nghttp2 refused it): no new streams on it, the next round
      // finds or opens another.
      s->conn_.reset();
      retire(c);
      continue;
    }
    c->streams_.emplace(s->id_, s.get());
    c->update_idle();
    c->flush();
    result.stream = std::move(s);
    co_return result;
  }
  result.failure.failure = "connect";
  result.failure.error = asio::error::connection_aborted;
  co_return result;
}

void H2UpstreamPool::retire(const std::shared_ptr<H2UpstreamConnection>& c) {
  forget(c.get());
  std::erase_if(retired_, [](const auto& w) { return w.expired(); });
  retired_.push_back(c);
  c->retire();
}

void H2UpstreamPool::clear() {
  std::vector<std::shared_ptr<H2UpstreamConnection>> all;
  for (auto& [key, list] : by_key_) all.insert(all.end(), list.begin(), list.end());
  for (auto& c : all) retire(c);
}

void H2UpstreamPool::shutdown() {
  std::vector<std::shared_ptr<H2UpstreamConnection>> all;
  for (auto& [key, list] : by_key_) all.insert(all.end(), list.begin(), list.end());
  for (auto& w : retired_)
    if (auto c = w.lock()) all.push_back(std::move(c));
  retired_.clear();
  for (auto& c : all) c->die();
  by_key_.clear();
}

}  // namespace postern::proxy
