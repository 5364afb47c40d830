#include "http2/session_common.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace postern::http2::detail {

SessionSetup::SessionSetup(std::size_t max_continuations, std::size_t max_outbound_ack, std::size_t max_settings) {
  if (nghttp2_session_callbacks_new(&callbacks_) != 0) throw std::bad_alloc();
  if (nghttp2_option_new(&options_) != 0) {
    nghttp2_session_callbacks_del(callbacks_);
    throw std::bad_alloc();
  }
  nghttp2_option_set_no_auto_window_update(options_, 1);
  nghttp2_option_set_max_continuations(options_, max_continuations);
  nghttp2_option_set_max_outbound_ack(options_, max_outbound_ack);
  nghttp2_option_set_max_settings(options_, max_settings);
}

SessionSetup::~SessionSetup() {
  nghttp2_option_del(options_);
  nghttp2_session_callbacks_del(callbacks_);
}

void start_session(nghttp2_session* session, std::span<const nghttp2_settings_entry> settings,
                   std::uint32_t connection_window_size) {
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (connection_window_size > 65535)
    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(connection_window_size));
}

void OutgoingBody::append(nghttp2_session* session, std::int32_t stream, std::string_view more) {
  if (end || more.empty()) return;
  bytes.append(more);
  if (deferred) {
    deferred = false;
    nghttp2_session_resume_data(session, stream);
  }
}

void OutgoingBody::finish(nghttp2_session* session, std::int32_t stream, std::vector<Field> trailer_fields) {
  if (end) return;
  end = true;
  for (auto& f : trailer_fields)
    if (!connection_specific(f.name)) trailers.push_back(std::move(f));
  if (deferred) {
    deferred = false;
    nghttp2_session_resume_data(session, stream);
  }
}

ssize_t OutgoingBody::read(nghttp2_session* session, std::int32_t stream, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, std::size_t bound, bool& room_again) {
  room_again = false;
  const std::size_t n = std::min(length, buffered());
  if (n == 0 && !end) {
    deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  std::memcpy(buf, bytes.data() + offset, n);
  offset += n;
  if (offset == bytes.size()) {
    bytes.clear();
    offset = 0;
  }
  if (end && buffered() == 0) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers.empty()) {
      std::vector<nghttp2_nv> nv;
      nv.reserve(trailers.size());
      for (const auto& f : trailers) nv.push_back(make_nv(f.name, f.value));
      if (nghttp2_submit_trailer(session, stream, nv.data(), nv.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  } else if (was_full && buffered() < bound) {
    was_full = false;
    room_again = true;
  }
  return static_cast<ssize_t>(n);
}

bool collect_output(nghttp2_session* session, std::string& out, std::size_t max_bytes, std::string& failure) {
  const std::size_t start = out.size();
  while (out.size() - start < max_bytes) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session, &data);
    if (n < 0) {
      if (failure.empty()) failure = nghttp2_strerror(static_cast<int>(n));
      return false;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

bool receive(nghttp2_session* session, std::string_view bytes, std::string& failure, std::string_view flood) {
  const auto n = nghttp2_session_mem_recv(session, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (n < 0) {
    if (failure.empty()) {
      if (n == NGHTTP2_ERR_FLOODED) failure = flood;
      else if (n == NGHTTP2_ERR_BAD_CLIENT_MAGIC) failure = "not an HTTP/2 connection preface";
      else failure = nghttp2_strerror(static_cast<int>(n));
    }
    // nghttp2 queues a GOAWAY for protocol errors; make sure one goes out whatever the cause.
    nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
    return false;
  }
  if (!failure.empty()) return false;  // a callback found a connection error: its GOAWAY is queued
  if (!nghttp2_session_want_read(session)) {
    failure = "connection closed by GOAWAY";
    return false;
  }
  return true;
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
         name == "upgrade";
}

}  // namespace postern::http2::detail
