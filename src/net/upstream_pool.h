#pragma once
// Per-worker pools of keep-alive connections to upstreams, keyed by scheme, host, port and TLS settings. Idle
// connections are kept LIFO up to `max_idle_per_key`, each closed by the watchdog after `timeouts::upstream_keepalive`.
// A connection in use is owned by the request that took it; it goes back with release() only when its last response
// was read completely and the upstream allows keep-alive. Single-threaded: one pool per worker.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/settings.h"
#include "net/name_resolver.h"
#include "net/stream.h"

namespace postern::net {

struct UpstreamConnection {
  UpstreamConnection(Watchdog& dog, Stream::socket_type socket) : stream(dog, std::move(socket)) {}
  UpstreamConnection(Watchdog& dog, Stream::socket_type socket, boost::asio::ssl::context& ctx)
      : stream(dog, std::move(socket), ctx) {}
  Stream stream;
  boost::beast::flat_buffer buffer{64 * 1024};  // read buffer, bounded: the response header limit
  std::uint64_t key = 0;
  bool reused = false;  // taken from the idle list (may have been closed by the upstream meanwhile)
  bool h2 = false;      // TLS chose h2 by ALPN: the connection belongs to an HTTP/2 session, never to the idle list
};

// How to reach one upstream: the target plus the TLS context to use for https (null for http).
struct UpstreamEndpoint {
  const config::UpstreamTarget* target = nullptr;
  boost::asio::ssl::context* tls = nullptr;
  std::string server_name;  // SNI and the name verified; "" = the target host
  // Identifies the pool: (route index + 1) << 16 | target index for route upstreams; 0 = never pooled.
  std::uint64_t pool_key = 0;
  // https: offer h2 before http/1.1 by ALPN (routes without websockets; Pomerium's "auto" upstream protocol).
  bool offer_h2 = false;
};

struct AcquireResult {
  std::unique_ptr<UpstreamConnection> connection;  // null on failure
  boost::system::error_code error;
  const char* failure = nullptr;  // "dns", "connect", "tls" when connection is null
  bool timed_out = false;
};

class UpstreamPool {
 public:
  static constexpr std::size_t max_idle_per_key = 512;

  UpstreamPool(boost::asio::io_context& io, Watchdog& dog) : io_(io), dog_(dog), resolver_(io) {}

  // An idle pooled connection for `endpoint`, or null; no suspension (the common case on the hot path).
  [[nodiscard]] std::unique_ptr<UpstreamConnection> take_idle(const UpstreamEndpoint& endpoint);
  // An idle connection when there is one (unless `fresh`), else a new one. Never throws.
  Task<AcquireResult> acquire(const UpstreamEndpoint& endpoint, bool fresh = false);
  void release(std::unique_ptr<UpstreamConnection> connection);
  // Closes every idle connection (shutdown).
  void clear();
  // Shutdown, once no request needs the pool: idle connections closed, host name lookups no longer awaited.
  void shutdown() {
    clear();
    resolver_.shutdown();
  }

  // For metrics, read from any thread (one writer: the pool's own).
  [[nodiscard]] std::uint64_t held() const noexcept { return held_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t opened() const noexcept { return opened_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  static void count(std::atomic<std::uint64_t>& n) noexcept {
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> held_{0};    // idle connections kept
  std::atomic<std::uint64_t> opened_{0};  // connections opened
  std::atomic<std::uint64_t> failed_{0};  // connections that failed (DNS, TCP or TLS)
  boost::asio::io_context& io_;
  Watchdog& dog_;
  NameResolver resolver_;
  std::unordered_map<std::uint64_t, std::deque<std::unique_ptr<UpstreamConnection>>> idle_;
};

}  // namespace postern::net
