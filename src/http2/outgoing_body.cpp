#include "http2/outgoing_body.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace postern::http2::detail {

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
