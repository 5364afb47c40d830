#include "http2/server_session.h"

#include "http2/session_common.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace postern::http2 {

// One stream's state: the request being assembled, then the response body waiting for the client's window.
struct ServerSession::Stream {
  std::int32_t id = 0;
  Request request;
  std::size_t header_bytes = 0;  // decoded size as RFC 9113 counts it (name + value + 32 per field)
  bool too_large = false;        // header list past the limit: answered 431, fields no longer stored
  unsigned host_count = 0;
  std::string host;              // a Host field, reconciled with :authority when the block ends
  bool delivered = false;        // on_request was called
  bool discarding = false;       // request body not wanted: consumed here
  bool answered_locally = false;
  detail::OutgoingBody body;  // the response's
};

namespace {

using detail::connection_specific;
using detail::make_nv;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y)) return false;
  }
  return true;
}

}  // namespace

// nghttp2's callbacks, with the session as user data.
struct ServerSession::Callbacks {
  static ServerSession& self(void* user) { return *static_cast<ServerSession*>(user); }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    // nghttp2 enforces SETTINGS_MAX_CONCURRENT_STREAMS once the client has acknowledged it; before that, this does.
    if (s.streams_.size() >= s.limits_.max_concurrent_streams) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    auto stream = std::make_unique<Stream>();
    stream->id = frame->hd.stream_id;
    s.streams_.emplace(frame->hd.stream_id, std::move(stream));
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_data,
                       std::size_t name_size, const std::uint8_t* value_data, std::size_t value_size, std::uint8_t,
                       void* user) {
    auto& s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* st = s.find(frame->hd.stream_id);
    if (st == nullptr) return 0;
    st->header_bytes += name_size + value_size + 32;
    if (st->header_bytes > s.limits_.max_header_list_size) st->too_large = true;
    if (st->too_large || st->delivered) return 0;  // past the limit, or request trailers: not stored
    const std::string_view name(reinterpret_cast<const char*>(name_data), name_size);
    const std::string_view value(reinterpret_cast<const char*>(value_data), value_size);
    Request& r = st->request;
    if (!name.empty() && name[0] == ':') {
      // nghttp2 has checked them: known, once each, before the regular fields.
      if (name == ":method") r.method = value;
      else if (name == ":scheme") r.scheme = value;
      else if (name == ":authority") r.authority = value;
      else if (name == ":path") r.path = value;
      else if (name == ":protocol") r.protocol = value;
      return 0;
    }
    if (name == "host") {
      ++st->host_count;  // more than one is malformed: caught when the block ends
      st->host = value;
      return 0;
    }
    if (name == "cookie") {
      // RFC 9113 §8.2.3: crumbs are joined with "; " before the request goes anywhere else.
      for (auto& f : r.fields) {
        if (f.name == "cookie") {
          f.value += "; ";
          f.value += value;
          return 0;
        }
      }
    }
    r.fields.push_back({std::string(name), std::string(value)});
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto& s = self(user);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_DATA: {
        if (frame->hd.length == 0 && !end_stream && ++s.empty_data_frames_ > s.limits_.max_empty_data_frames) {
          s.fail("empty DATA frame flood");
          nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
          return 0;
        }
        Stream* st = s.find(frame->hd.stream_id);
        if (st != nullptr && end_stream && st->delivered && !st->discarding) s.handler_.on_body_end(st->id);
        return 0;
      }
      case NGHTTP2_HEADERS: {
        Stream* st = s.find(frame->hd.stream_id);
        if (st == nullptr) return 0;
        if (st->delivered) {  // trailers end the body
          if (end_stream && !st->discarding) s.handler_.on_body_end(st->id);
          return 0;
        }
        if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        if (st->too_large) {
          s.answer_locally(st->id, 431, "request header fields too large\n");
          return 0;
        }
        Request& r = st->request;
        if (st->host_count > 0) {
          // RFC 9113 §8.3.1: Host and :authority must name the same thing; without :authority, Host is it.
          if (st->host_count > 1 || st->host.empty() || (!r.authority.empty() && !iequals(st->host, r.authority))) {
            s.answer_locally(st->id, 400, "Host and :authority disagree\n");
            return 0;
          }
          if (r.authority.empty()) r.authority = std::move(st->host);
        }
        r.has_body = !end_stream;
        st->delivered = true;
        s.handler_.on_request(st->id, std::move(r));  // may answer at once; the stream stays until nghttp2 closes it
        return 0;
      }
      default:
        return 0;
    }
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                           std::size_t size, void* user) {
    auto& s = self(user);
    Stream* st = s.find(stream_id);
    if (st == nullptr || !st->delivered || st->discarding) {
      nghttp2_session_consume(session, stream_id, size);  // nobody reads it: keep the windows open
      return 0;
    }
    s.handler_.on_body(stream_id, {reinterpret_cast<const char*>(data), size});
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user) {
    auto& s = self(user);
    auto it = s.streams_.find(stream_id);
    if (it == s.streams_.end()) return 0;
    const bool delivered = it->second->delivered;
    s.streams_.erase(it);
    if (delivered) s.handler_.on_closed(stream_id, error_code);
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

ServerSession::ServerSession(Handler& handler, const Limits& limits) : handler_(handler), limits_(limits) {
  detail::SessionSetup setup(limits_.max_continuations, limits_.max_outbound_ack, limits_.max_settings);
  setup.use_callbacks<Callbacks>();
  nghttp2_option_set_stream_reset_rate_limit(setup.options(), limits_.reset_burst, limits_.reset_rate);
  if (nghttp2_session_server_new2(&session_, setup.callbacks(), this, setup.options()) != 0) throw std::bad_alloc();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list_size},
      // Websockets over HTTP/2 (RFC 8441) are not offered: browsers open an HTTP/1.1 connection for them instead.
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  detail::start_session(session_, settings, limits_.connection_window_size);
}

ServerSession::~ServerSession() {
  // Deleting the session closes the streams without calling back (nghttp2 calls no callbacks from _del).
  nghttp2_session_del(session_);
}

ServerSession::Stream* ServerSession::find(std::int32_t id) const {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void ServerSession::fail(std::string_view why) {
  if (failure_.empty()) failure_ = why;
}

bool ServerSession::receive(std::string_view bytes) {
  return detail::receive(session_, bytes, failure_, "flood of frames the client does not read the answers to");
}

bool ServerSession::collect_output(std::string& out, std::size_t max_bytes) {
  return detail::collect_output(session_, out, max_bytes, failure_);
}

bool ServerSession::wants_read() const { return nghttp2_session_want_read(session_) != 0; }
bool ServerSession::wants_write() const { return nghttp2_session_want_write(session_) != 0; }

void ServerSession::respond(std::int32_t id, unsigned status, std::span<const Field> fields, bool has_body) {
  Stream* st = find(id);
  if (st == nullptr) return;
  char status_text[4];
  const unsigned code = status >= 100 && status <= 999 ? status : 502;
  status_text[0] = static_cast<char>('0' + code / 100);
  status_text[1] = static_cast<char>('0' + code / 10 % 10);
  status_text[2] = static_cast<char>('0' + code % 10);
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size() + 1);
  nv.push_back(make_nv(":status", {status_text, 3}));
  for (const auto& f : fields)
    if (!connection_specific(f.name)) nv.push_back(make_nv(f.name, f.value));
  nghttp2_data_provider provider{};
  provider.source.ptr = st;
  provider.read_callback = &Callbacks::read_body;
  nghttp2_submit_response(session_, id, nv.data(), nv.size(), has_body ? &provider : nullptr);
}

std::size_t ServerSession::body_room(std::int32_t id) const {
  Stream* st = find(id);
  return st == nullptr ? 0 : st->body.room(limits_.max_buffered_body);
}

void ServerSession::send_body(std::int32_t id, std::string_view bytes) {
  if (Stream* st = find(id)) st->body.append(session_, id, bytes);
}

void ServerSession::end_body(std::int32_t id, std::span<const Field> trailers) {
  if (Stream* st = find(id)) st->body.finish(session_, id, {trailers.begin(), trailers.end()});
}

void ServerSession::reset(std::int32_t id, std::uint32_t error_code) {
  if (find(id) == nullptr) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, error_code);
}

void ServerSession::consumed(std::int32_t id, std::size_t n) {
  // For a stream already closed nghttp2 credits the connection's window alone: bytes delivered before the close
  // must still be given back, or the connection's window shrinks for good.
  if (n == 0 || id <= 0) return;
  nghttp2_session_consume(session_, id, n);
}

void ServerSession::discard_body(std::int32_t id) {
  Stream* st = find(id);
  if (st != nullptr) st->discarding = true;
}

void ServerSession::answer_locally(std::int32_t id, unsigned status, std::string_view body) {
  Stream* st = find(id);
  if (st == nullptr) return;
  st->answered_locally = true;
  st->discarding = true;
  const Field fields[] = {{"content-type", "text/plain; charset=utf-8"},
                          {"content-length", std::to_string(body.size())}};
  respond(id, status, fields, true);
  send_body(id, body);
  end_body(id);
}

void ServerSession::drain() {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
}

void ServerSession::terminate(std::uint32_t error_code) { nghttp2_session_terminate_session(session_, error_code); }

}  // namespace postern::http2
