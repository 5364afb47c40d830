#include "session/compact_jws.h"

#include "core/base64.h"

namespace postern::session {

void CompactJws::assign(std::string_view compact) {
  const auto first = compact.find('.');
  const auto second = first == std::string_view::npos ? first : compact.find('.', first + 1);
  if (second != std::string_view::npos && compact.find('.', second + 1) == std::string_view::npos) {
    auto h = core::base64url_decode(compact.substr(0, first));
    auto p = core::base64url_decode(compact.substr(first + 1, second - first - 1));
    auto s = core::base64url_decode(compact.substr(second + 1));
    // Only when re-encoding gives back exactly this text (canonical, unpadded): the hint must be the token sent.
    if (h && p && s && core::base64url_encode(*h) == compact.substr(0, first) &&
        core::base64url_encode(*p) == compact.substr(first + 1, second - first - 1) &&
        core::base64url_encode(*s) == compact.substr(second + 1)) {
      bytes_.clear();
      bytes_.reserve(h->size() + p->size() + s->size());
      bytes_ += *h;
      bytes_ += *p;
      bytes_ += *s;
      header_ = static_cast<std::uint32_t>(h->size());
      payload_ = static_cast<std::uint32_t>(p->size());
      verbatim_ = false;
      return;
    }
  }
  bytes_.assign(compact);
  bytes_.shrink_to_fit();
  header_ = payload_ = 0;
  verbatim_ = true;
}

std::string CompactJws::text() const {
  if (verbatim_) return bytes_;
  const std::string_view all(bytes_);
  return core::base64url_encode(all.substr(0, header_)) + "." + core::base64url_encode(all.substr(header_, payload_)) +
         "." + core::base64url_encode(all.substr(header_ + payload_));
}

std::string CompactJws::payload() const {
  if (verbatim_) {
    const auto first = bytes_.find('.');
    const auto second = first == std::string::npos ? first : bytes_.find('.', first + 1);
    if (second == std::string::npos) return {};
    return core::base64url_decode(std::string_view(bytes_).substr(first + 1, second - first - 1)).value_or("");
  }
  return bytes_.substr(header_, payload_);
}

}  // namespace postern::session
