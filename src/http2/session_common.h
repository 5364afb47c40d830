#pragma once
// What ServerSession and ClientSession share, internal to the http2 module: the body one side of a stream sends (a
// response on the server, a request on the client: bytes wait in a buffer bounded by the caller until the peer's
// flow-control window lets nghttp2 take them; trailers, if any, go out after the last byte), how a session is created
// and started, and its I/O (bytes in, frames out).
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http2/field.h"

namespace postern::http2::detail {

struct OutgoingBody {
  std::string bytes;
  std::size_t offset = 0;
  bool end = false;       // end_body was called: EOF once `bytes` is drained
  bool deferred = false;  // the data source said DEFERRED: resume when bytes arrive
  bool was_full = false;  // room reached 0: tell the owner when there is room again
  std::vector<Field> trailers;

  [[nodiscard]] std::size_t buffered() const { return bytes.size() - offset; }
  [[nodiscard]] std::size_t room(std::size_t bound) {
    if (buffered() >= bound) {
      was_full = true;
      return 0;
    }
    return bound - buffered();
  }
  // Appends (ignored after end); resumes the stream's DATA if nghttp2 was waiting for bytes.
  void append(nghttp2_session* session, std::int32_t stream, std::string_view more);
  void finish(nghttp2_session* session, std::int32_t stream, std::vector<Field> trailer_fields);

  // nghttp2's data source read: copies what fits; EOF (with trailers submitted) when drained after `end`; DEFERRED
  // when empty. Sets `room_again` when the buffer had been full and now has room under `bound`.
  ssize_t read(nghttp2_session* session, std::int32_t stream, std::uint8_t* buf, std::size_t length,
               std::uint32_t* flags, std::size_t bound, bool& room_again);
};

// Appends what the session has to write to `out`, up to about `max_bytes` (a frame is never split). False (with
// `failure` set if it was empty) on a fatal session error.
bool collect_output(nghttp2_session* session, std::string& out, std::size_t max_bytes, std::string& failure);
// Feeds received bytes. False when the connection is over: a fatal error (`flood` names what a flood is from), a
// failure recorded by a callback, or a GOAWAY that leaves nothing to read; `failure` says which.
bool receive(nghttp2_session* session, std::string_view bytes, std::string& failure, std::string_view flood);

// Creating a session the way both codecs do: the six callbacks of a `Callbacks` struct (on_begin_headers, on_header,
// on_frame_recv, on_data_chunk, on_stream_close, on_frame_send), no automatic WINDOW_UPDATE (windows open as the
// owner delivers bodies: back-pressure across the proxy) and the flood limits both sides share. Owns the nghttp2
// callbacks and options until the session is made; throws std::bad_alloc when nghttp2 cannot allocate.
class SessionSetup {
 public:
  SessionSetup(std::size_t max_continuations, std::size_t max_outbound_ack, std::size_t max_settings);
  ~SessionSetup();
  SessionSetup(const SessionSetup&) = delete;
  SessionSetup& operator=(const SessionSetup&) = delete;

  template <class Callbacks>
  void use_callbacks() {
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks_, &Callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks_, &Callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks_, &Callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks_, &Callbacks::on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks_, &Callbacks::on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks_, &Callbacks::on_frame_send);
  }
  [[nodiscard]] nghttp2_session_callbacks* callbacks() const { return callbacks_; }
  [[nodiscard]] nghttp2_option* options() const { return options_; }

 private:
  nghttp2_session_callbacks* callbacks_ = nullptr;
  nghttp2_option* options_ = nullptr;
};

// A new session's first frames: our SETTINGS, then the connection window opened to `connection_window_size` when it
// is larger than the protocol's 65,535.
void start_session(nghttp2_session* session, std::span<const nghttp2_settings_entry> settings,
                   std::uint32_t connection_window_size);

// nghttp2 name/value views of a field (nghttp2 copies them when the frame is submitted).
nghttp2_nv make_nv(std::string_view name, std::string_view value);
// Fields a HTTP/2 message must not carry (RFC 9113 §8.2.2): connection, keep-alive, proxy-connection,
// transfer-encoding, upgrade.
bool connection_specific(std::string_view name);

}  // namespace postern::http2::detail
