#pragma once
// HTTP/2 towards upstreams: `h2c://` targets (cleartext, prior knowledge) and `https://` targets that chose h2 by
// ALPN. Each worker keeps its own connections per endpoint (the same keys as net::UpstreamPool); a connection
// carries up to 100 requests at once as streams (fewer if the upstream says so), and a new one is opened only when
// every connection to that endpoint is full. The framing is http2::ClientSession's; here are the I/O (one reader
// and one writer coroutine per connection) and the streams' waiting. A stream's response body opens the upstream's
// window only as the exchange delivers it downstream, so a slow client slows its upstream stream, not Postern's
// memory. Internal to the proxy module; forward_h2 (h2_forward.cpp) is its user.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http2/field.h"
#include "net/asio_types.h"
#include "net/upstream_pool.h"

namespace postern::proxy {

class H2UpstreamConnection;

// One request on an upstream HTTP/2 connection: what the upstream answered so far. The exchange owns it; dropping
// it before the response ended cancels the stream (RST_STREAM CANCEL).
class H2UpstreamStream {
 public:
  using Clock = std::chrono::steady_clock;
  H2UpstreamStream(std::shared_ptr<H2UpstreamConnection> connection, net::Executor ex);
  ~H2UpstreamStream();
  H2UpstreamStream(const H2UpstreamStream&) = delete;
  H2UpstreamStream& operator=(const H2UpstreamStream&) = delete;

  // The response as it arrives.
  bool has_head = false;
  unsigned status = 0;
  std::vector<http2::Field> fields;
  std::string body;  // received, not yet taken (take_body)
  bool ended = false;  // END_STREAM: the body is complete (trailers, if any, are in `trailers`)
  std::vector<http2::Field> trailers;
  bool closed = false;  // the stream is gone (after `ended`, or reset, or the connection ended)
  std::uint32_t close_code = 0;  // RST_STREAM / GOAWAY code when closed early (REFUSED_STREAM: never processed)

  // Waits until the head, body bytes, the end or the stream's closing, or `deadline`. False on the deadline.
  net::Task<bool> wait_response(Clock::time_point deadline);
  // Moves the received body bytes to `out` (appended) and opens the upstream's window by as many.
  void take_body(std::string& out);
  // Sends request body bytes, waiting while the stream's buffer is full (until `deadline`). False: the stream is
  // gone, or no room came by the deadline.
  net::Task<bool> write_body(std::string_view bytes, Clock::time_point deadline);
  void end_body();
  // Cancels the stream towards the upstream (RST_STREAM); waits in progress return.
  void reset(std::uint32_t error_code);
  // Wakes a wait_response in progress (the client's side of the exchange changed: it left).
  void wake() { notify_response(); }

 private:
  friend class H2UpstreamConnection;
  friend class H2UpstreamPool;
  std::shared_ptr<H2UpstreamConnection> conn_;
  std::int32_t id_ = -1;
  net::Timer response_wake_;  // the response relay waits here
  net::Timer request_wake_;   // the request body pump waits here (two timers: each wait re-arms only its own)
  bool response_waiting_ = false;
  bool request_waiting_ = false;
  bool cancelled_ = false;  // reset() was called
  void notify_response() {
    if (response_waiting_) response_wake_.cancel();
  }
  void notify_request() {
    if (request_waiting_) request_wake_.cancel();
  }
};

// The request head as HTTP/2 sends it.
struct H2RequestHead {
  std::string_view method, scheme, authority, path;
  std::span<const http2::Field> fields;
  bool has_body = false;
};

struct H2Open {
  std::shared_ptr<H2UpstreamStream> stream;  // null on failure
  net::AcquireResult failure;                // why (as UpstreamPool::acquire reports it)
};

class H2UpstreamPool {
 public:
  static constexpr std::size_t max_connections_per_key = 32;

  H2UpstreamPool(net::Executor executor, net::UpstreamPool& connector) : executor_(executor), connector_(connector) {}
  ~H2UpstreamPool();
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;

  // True when a live HTTP/2 connection to this endpoint exists (an https target known to speak h2).
  [[nodiscard]] bool knows(const net::UpstreamEndpoint& endpoint) const;
  // Makes sure a connection to `endpoint` has room for a stream: one does, or `fresh` (a connection the caller opened
  // that chose h2) or a new one (DNS, TCP, TLS through the connector; h2c needs no negotiation) is added. The result
  // has `failure` set when no connection could be opened, and `connection` set when a new https connection chose
  // HTTP/1.1 by ALPN (the caller speaks HTTP/1.1 on it); neither when the endpoint is ready.
  net::Task<net::AcquireResult> ready(const net::UpstreamEndpoint& endpoint,
                                      std::unique_ptr<net::UpstreamConnection> fresh = {});
  // Opens a stream for `head` on a ready connection (ready() first, with its failures).
  net::Task<H2Open> open(const net::UpstreamEndpoint& endpoint, const H2RequestHead& head,
                         std::unique_ptr<net::UpstreamConnection> fresh = {});
  // A reload: connections of the old configuration finish their streams and close (GOAWAY); idle ones close now.
  void clear();
  // Worker shutdown once no request needs them: every connection closed.
  void shutdown();

 private:
  friend class H2UpstreamConnection;
  void forget(H2UpstreamConnection* c);
  // No new streams on `c`: it finishes those it carries, then closes (shutdown closes it at once).
  void retire(const std::shared_ptr<H2UpstreamConnection>& c);
  std::shared_ptr<H2UpstreamConnection> with_room(std::uint64_t key) const;
  std::shared_ptr<H2UpstreamConnection> adopt(std::unique_ptr<net::UpstreamConnection> conn);

  net::Executor executor_;
  net::UpstreamPool& connector_;
  std::unordered_map<std::uint64_t, std::vector<std::shared_ptr<H2UpstreamConnection>>> by_key_;
  // Connections a reload retired: they finish their streams, then close (shutdown closes them at once).
  std::vector<std::weak_ptr<H2UpstreamConnection>> retired_;
  // A connection being opened per key (one at a time), as a timer cancelled when the attempt ends: others wanting
  // that endpoint wait for it rather than open their own.
  std::unordered_map<std::uint64_t, std::shared_ptr<net::Timer>> connecting_;
};

}  // namespace postern::proxy
