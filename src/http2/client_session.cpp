#include "http2/client_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <new>
#include <utility>

#include "http2/session_common.h"

namespace postern::http2 {

struct ClientSession::Stream {
  std::int32_t id = 0;
  std::vector<Field> fields;     // the head or trailers being decoded
  unsigned status = 0;
  std::size_t header_bytes = 0;  // of the block being decoded
  bool too_large = false;        // or otherwise malformed: reset, nothing more reported
  bool responded = false;        // on_response was called: the next header block is trailers
  detail::OutgoingBody body;     // the request's
};

struct ClientSession::Callbacks {
  static ClientSession& self(void* user) { return *static_cast<ClientSession*>(user); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (Stream* st = self(user).find(frame->hd.stream_id)) {
      st->fields.clear();
      st->header_bytes = 0;
      st->status = 0;
    }
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* name_data,
                       std::size_t name_size, const std::uint8_t* value_data, std::size_t value_size, std::uint8_t,
                       void* user) {
    auto& s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* st = s.find(frame->hd.stream_id);
    if (st == nullptr || st->too_large) return 0;
    st->header_bytes += name_size + value_size + 32;
    if (st->header_bytes > s.limits_.max_header_list_size) {
      st->too_large = true;
      st->fields.clear();
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      return 0;
    }
    const std::string_view name(reinterpret_cast<const char*>(name_data), name_size);
    const std::string_view value(reinterpret_cast<const char*>(value_data), value_size);
    if (name == ":status") {
      unsigned code = 0;
      for (const char c : value) code = code * 10 + static_cast<unsigned>(c - '0');  // nghttp2 checked: 3 digits
      st->status = code;
      return 0;
    }
    st->fields.push_back({std::string(name), std::string(value)});
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& s = self(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      s.no_new_streams_ = true;
      return 0;
    }
    Stream* st = s.find(frame->hd.stream_id);
    if (st == nullptr || st->too_large) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    const std::int32_t id = st->id;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (!st->responded && st->status >= 100 && st->status < 200) {
        st->fields.clear();  // an interim head: skipped
        return 0;
      }
      if (!st->responded && (st->status < 200 || st->status > 999)) {
        // A head without a final status (nghttp2 lets some through, e.g. after an interim one): malformed.
        st->too_large = true;  // nothing more of this stream is reported (it closes as an error)
        st->fields.clear();
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
        return 0;
      }
      if (!st->responded) {
        st->responded = true;
        s.handler_.on_response(id, st->status, std::move(st->fields));
      } else {
        s.handler_.on_trailers(id, std::move(st->fields));
      }
      st->fields.clear();
    }
    if (end_stream && (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && st->responded)
      s.handler_.on_end(id);
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                           std::size_t size, void* user) {
    auto& s = self(user);
    Stream* st = s.find(stream_id);
    if (st == nullptr || st->too_large || !st->responded) {
      nghttp2_session_consume(session, stream_id, size);
      return 0;
    }
    s.handler_.on_body(stream_id, {reinterpret_cast<const char*>(data), size});
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user) {
    auto& s = self(user);
    const auto it = s.streams_.find(stream_id);
    if (it == s.streams_.end()) return 0;
    const bool too_large = it->second->too_large;
    s.streams_.erase(it);
    s.handler_.on_closed(stream_id, too_large && error_code == NGHTTP2_NO_ERROR ? std::uint32_t{NGHTTP2_INTERNAL_ERROR} : error_code);
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
      self(user).fail("connection ended with GOAWAY");
    return 0;
  }

  static ssize_t read_body(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void* user) {
    auto& s = self(user);
    bool room_again = false;
    const auto n = static_cast<Stream*>(source->ptr)->body.read(session, stream_id, buf, length, flags,
                                                                 s.limits_.max_buffered_body, room_again);
    if (room_again) s.handler_.on_body_room(stream_id);
    return n;
  }
};

ClientSession::ClientSession(Handler& handler, const ClientLimits& limits) : handler_(handler), limits_(limits) {
  detail::SessionSetup setup(limits_.max_continuations, limits_.max_outbound_ack, limits_.max_settings);
  setup.use_callbacks<Callbacks>();
  // The upstream's stream limit until its SETTINGS arrive.
  nghttp2_option_set_peer_max_concurrent_streams(setup.options(), limits_.max_concurrent_streams);
  if (nghttp2_session_client_new2(&session_, setup.callbacks(), this, setup.options()) != 0) throw std::bad_alloc();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list_size},
  };
  detail::start_session(session_, settings, limits_.connection_window_size);
}

ClientSession::~ClientSession() { nghttp2_session_del(session_); }

ClientSession::Stream* ClientSession::find(std::int32_t id) const {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void ClientSession::fail(std::string_view why) {
  if (failure_.empty()) failure_ = why;
}

bool ClientSession::accepting() const {
  // Stream ids are odd numbers below 2^31: after about a billion requests a connection has none left.
  return !no_new_streams_ && failure_.empty() && nghttp2_session_want_read(session_) != 0 &&
         nghttp2_session_get_next_stream_id(session_) <= 0x7fffffffu;
}

bool ClientSession::can_open() const {
  if (!accepting()) return false;
  const auto remote = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return streams_.size() < std::min<std::size_t>(remote, limits_.max_concurrent_streams);
}

std::int32_t ClientSession::request(std::string_view method, std::string_view scheme, std::string_view authority,
                                    std::string_view path, std::span<const Field> fields, bool has_body) {
  if (!can_open()) return -1;
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size() + 4);
  nv.push_back(detail::make_nv(":method", method));
  nv.push_back(detail::make_nv(":scheme", scheme));
  nv.push_back(detail::make_nv(":authority", authority));
  nv.push_back(detail::make_nv(":path", path));
  for (const auto& f : fields)
    if (!detail::connection_specific(f.name) && f.name != "host") nv.push_back(detail::make_nv(f.name, f.value));
  auto stream = std::make_unique<Stream>();
  nghttp2_data_provider provider{};
  provider.source.ptr = stream.get();
  provider.read_callback = &Callbacks::read_body;
  const std::int32_t id =
      nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), has_body ? &provider : nullptr, stream.get());
  if (id < 0) return -1;
  stream->id = id;
  streams_.emplace(id, std::move(stream));
  return id;
}

std::size_t ClientSession::body_room(std::int32_t id) const {
  Stream* st = find(id);
  return st == nullptr ? 0 : st->body.room(limits_.max_buffered_body);
}

void ClientSession::send_body(std::int32_t id, std::string_view bytes) {
  if (Stream* st = find(id)) st->body.append(session_, id, bytes);
}

void ClientSession::end_body(std::int32_t id, std::span<const Field> trailers) {
  if (Stream* st = find(id)) st->body.finish(session_, id, {trailers.begin(), trailers.end()});
}

void ClientSession::reset(std::int32_t id, std::uint32_t error_code) {
  if (find(id) != nullptr) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, error_code);
}

void ClientSession::consumed(std::int32_t id, std::size_t n) {
  // A closed stream's bytes still count: nghttp2 then credits the connection's window alone (a response whose last
  // DATA and END_STREAM came in one read is closed before the exchange takes its body).
  if (n != 0 && id > 0) nghttp2_session_consume(session_, id, n);
}

bool ClientSession::receive(std::string_view bytes) {
  return detail::receive(session_, bytes, failure_, "flood of frames from the upstream");
}

bool ClientSession::collect_output(std::string& out, std::size_t max_bytes) {
  return detail::collect_output(session_, out, max_bytes, failure_);
}

bool ClientSession::wants_read() const { return nghttp2_session_want_read(session_) != 0; }
bool ClientSession::wants_write() const { return nghttp2_session_want_write(session_) != 0; }

void ClientSession::shutdown() {
  // Our GOAWAY names the last stream the upstream opened (none): our own streams in progress are not affected.
  no_new_streams_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
}

}  // namespace postern::http2
