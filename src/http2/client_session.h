#pragma once
// The client side of one HTTP/2 connection to an upstream (`h2c://` targets, and `https://` ones that choose h2 by
// ALPN), as a codec like ServerSession: requests submitted per stream, bytes in (`receive`), frames out
// (`collect_output`), response heads, bodies and trailers reported to a `Handler`. Many requests share the
// connection, up to the number of streams the upstream allows. The limits protect Postern from an upstream too: a
// response header list past `max_header_list_size` resets that stream, and response bodies open the upstream's
// windows only as the handler reports them `consumed` (delivered downstream), so a slow client slows the upstream
// instead of filling Postern's memory. No I/O: the pool's connection loop, the tests and a fuzz target drive it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http2/field.h"

struct nghttp2_session;

namespace postern::http2 {

struct ClientLimits {
  std::uint32_t initial_window_size = 65535;       // per stream: response bytes the upstream may send ahead
  std::uint32_t connection_window_size = 1 << 20;  // all streams together
  std::uint32_t max_header_list_size = 64 * 1024;  // a response head (or trailers) past this resets the stream
  std::size_t max_continuations = 8;
  std::size_t max_outbound_ack = 1000;
  std::size_t max_settings = 32;
  std::size_t max_buffered_body = 64 * 1024;  // per stream, request body waiting for the upstream's window
  std::uint32_t max_concurrent_streams = 100;  // our own cap, whatever the upstream allows
};

class ClientSession {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // The final response head (1xx heads are skipped; 101 is not possible in HTTP/2).
    virtual void on_response(std::int32_t stream, unsigned status, std::vector<Field> fields) = 0;
    virtual void on_body(std::int32_t stream, std::string_view bytes) = 0;
    // Trailers, when the response carries them (gRPC's grpc-status, grpc-message).
    virtual void on_trailers(std::int32_t stream, std::vector<Field> fields) = 0;
    // The response ended (END_STREAM); on_closed follows.
    virtual void on_end(std::int32_t stream) = 0;
    // The stream is gone: `error_code` 0 after a complete exchange, else the RST_STREAM/GOAWAY code (a stream the
    // upstream never processed, REFUSED_STREAM, may be retried elsewhere).
    virtual void on_closed(std::int32_t stream, std::uint32_t error_code) = 0;
    virtual void on_body_room(std::int32_t /*stream*/) {}
  };

  ClientSession(Handler& handler, const ClientLimits& limits = {});
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Opens a stream: `method`, `scheme`, `authority`, `path` become the pseudo-headers; fields follow (connection-
  // specific ones dropped). With `has_body`, bytes follow through send_body/end_body. Returns the stream id, or -1
  // when no stream can be opened now (see can_open).
  std::int32_t request(std::string_view method, std::string_view scheme, std::string_view authority,
                       std::string_view path, std::span<const Field> fields, bool has_body);
  [[nodiscard]] std::size_t body_room(std::int32_t stream) const;
  void send_body(std::int32_t stream, std::string_view bytes);
  void end_body(std::int32_t stream, std::span<const Field> trailers = {});
  void reset(std::int32_t stream, std::uint32_t error_code);  // e.g. the downstream client went away
  // Response body bytes delivered downstream (also after the stream closed: the connection's window needs them).
  void consumed(std::int32_t stream, std::size_t n);

  [[nodiscard]] bool receive(std::string_view bytes);
  [[nodiscard]] bool collect_output(std::string& out, std::size_t max_bytes = 256 * 1024);
  [[nodiscard]] bool wants_read() const;
  [[nodiscard]] bool wants_write() const;
  // Another stream may be opened now: the connection is alive, no GOAWAY came, and fewer streams are open than
  // the upstream (and ClientLimits) allow.
  [[nodiscard]] bool can_open() const;
  // Streams may still be opened on this connection, now or once some end: no GOAWAY, no failure, stream ids left.
  [[nodiscard]] bool accepting() const;
  [[nodiscard]] std::size_t open_streams() const { return streams_.size(); }
  [[nodiscard]] std::string_view failure() const { return failure_; }
  // Graceful close: GOAWAY; streams in progress finish.
  void shutdown();

 private:
  struct Stream;
  struct Callbacks;
  Stream* find(std::int32_t id) const;
  void fail(std::string_view why);

  Handler& handler_;
  ClientLimits limits_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::unique_ptr<Stream>> streams_;
  bool no_new_streams_ = false;  // a GOAWAY came, or shutdown() was called
  std::string failure_;
};

}  // namespace postern::http2
