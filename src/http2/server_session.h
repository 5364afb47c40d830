#pragma once
// The server side of one HTTP/2 connection, as a codec: bytes in (`receive`), frames out (`collect_output`),
// requests and their bodies reported to a `Handler`, responses, bodies and trailers submitted per stream. nghttp2
// does the framing, HPACK, flow control and the protocol's own checks (pseudo-headers, connection-specific fields,
// content-length against DATA); this class sets the limits that keep a hostile client bounded and adds what nghttp2
// leaves to the application:
//   - a header list past `max_header_list_size` (an HPACK bomb expands into one) is answered 431 on that stream, and
//     the fields past the limit are never stored;
//   - runs of empty DATA frames (CVE-2019-9518) end the connection with ENHANCE_YOUR_CALM;
//   - the stream reset rate (CVE-2023-44487, rapid reset), CONTINUATION frames per header block (CVE-2024-27316 and
//     kin), SETTINGS entries and queued PING/SETTINGS acknowledgements (floods) are capped through nghttp2's options;
//   - each stream's outgoing body waits in a buffer of at most `max_buffered_body` bytes: the data path stops reading
//     its upstream when `body_room` is 0, so a client that never opens its window costs that much and no more;
//   - request bodies open the client's windows only as the handler reports them `consumed` (forwarded upstream).
// It does no I/O and owns no socket: the connection loop, the unit tests and the fuzz target drive it with bytes.
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

struct Limits {
  std::uint32_t max_concurrent_streams = 100;    // SETTINGS_MAX_CONCURRENT_STREAMS (Envoy's and nginx's default is 100/128)
  std::uint32_t initial_window_size = 65535;     // per stream: request body bytes a client may send ahead of us
  std::uint32_t connection_window_size = 1 << 20;  // all streams together
  std::uint32_t max_header_list_size = 64 * 1024;  // decoded, as RFC 9113 counts it; the HTTP/1.1 head limit
  std::size_t max_continuations = 8;             // CONTINUATION frames after one HEADERS
  std::uint64_t reset_burst = 200;               // client RST_STREAMs allowed at once, then `reset_rate` a second
  std::uint64_t reset_rate = 50;
  std::size_t max_empty_data_frames = 64;        // DATA frames with neither payload nor END_STREAM, per connection
  std::size_t max_outbound_ack = 1000;           // PING/SETTINGS acknowledgements queued but not written
  std::size_t max_settings = 32;                 // entries in one SETTINGS frame
  std::size_t max_buffered_body = 64 * 1024;     // per stream, response body waiting for the client's window
};

// A request as the client sent it, once its header block is complete.
struct Request {
  std::string method, scheme, authority, path;
  std::string protocol;       // :protocol of an extended CONNECT (RFC 8441), else empty
  std::vector<Field> fields;  // regular fields in order; `cookie` crumbs joined into one field with "; "
  bool has_body = true;       // false when the HEADERS frame ended the stream
};

class ServerSession {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // A request's header block is complete. Bodies, if any, follow through on_body; on_body_end marks the end.
    virtual void on_request(std::int32_t stream, Request request) = 0;
    virtual void on_body(std::int32_t stream, std::string_view bytes) = 0;
    virtual void on_body_end(std::int32_t stream) = 0;
    // The stream is gone (answered and done, reset by either side, or the connection ended): its number is dead.
    // `error_code` is 0 (NO_ERROR) for a stream that ended normally.
    virtual void on_closed(std::int32_t stream, std::uint32_t error_code) = 0;
    // The stream's outgoing buffer was full and has room again (the client opened its window).
    virtual void on_body_room(std::int32_t /*stream*/) {}
  };

  ServerSession(Handler& handler, const Limits& limits = {});
  ~ServerSession();
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // Consumes bytes read from the client. False: the connection is over (a protocol error, a flood, a client
  // GOAWAY after its streams); `collect_output` still yields what must be written (a GOAWAY) before closing.
  [[nodiscard]] bool receive(std::string_view bytes);
  // Appends queued frames to `out`, up to about `max_bytes` (a frame is never split). False on a fatal error.
  [[nodiscard]] bool collect_output(std::string& out, std::size_t max_bytes = 256 * 1024);
  [[nodiscard]] bool wants_read() const;
  [[nodiscard]] bool wants_write() const;
  // Nothing left to read or write: the connection can be closed.
  [[nodiscard]] bool finished() const { return !wants_read() && !wants_write(); }

  // The response head. With `has_body`, body bytes follow through send_body and end with end_body (trailers allowed
  // there); without, the stream ends with the HEADERS frame. Fields must not include connection-specific ones
  // (connection, keep-alive, proxy-connection, transfer-encoding, upgrade): they are dropped here.
  void respond(std::int32_t stream, unsigned status, std::span<const Field> fields, bool has_body);
  // Bytes the stream's outgoing buffer takes now (0: wait for on_body_room).
  [[nodiscard]] std::size_t body_room(std::int32_t stream) const;
  // Appends body bytes (at most body_room; more is accepted but counts against the bound next time).
  void send_body(std::int32_t stream, std::string_view bytes);
  void end_body(std::int32_t stream, std::span<const Field> trailers = {});
  // Ends the stream with RST_STREAM (e.g. the upstream failed after the response head went out).
  void reset(std::int32_t stream, std::uint32_t error_code);
  // The handler forwarded `n` request body bytes: the client may send as many more (after the stream closed, on the
  // connection's window only).
  void consumed(std::int32_t stream, std::size_t n);
  // The rest of this request's body is not wanted (the stream was answered early): windows reopen by themselves.
  void discard_body(std::int32_t stream);
  // Graceful close: GOAWAY with the last stream seen; streams in progress finish, new ones are refused.
  void drain();
  // Ends the connection now with GOAWAY and `error_code`.
  void terminate(std::uint32_t error_code);

  [[nodiscard]] std::size_t open_streams() const { return streams_.size(); }
  // Why the connection ended, when it did (for the log): empty while it is alive.
  [[nodiscard]] std::string_view failure() const { return failure_; }

 private:
  struct Stream;
  struct Callbacks;
  Stream* find(std::int32_t id) const;
  void answer_locally(std::int32_t id, unsigned status, std::string_view body);
  void fail(std::string_view why);

  Handler& handler_;
  Limits limits_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::size_t empty_data_frames_ = 0;
  std::string failure_;
};

// The connection preface's first bytes a client sends ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"): h2c prior knowledge.
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace postern::http2
