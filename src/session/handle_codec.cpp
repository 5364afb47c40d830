#include "session/handle_codec.h"

#include <boost/json.hpp>

#include "core/base64.h"
#include "core/crypto.h"
#include "core/json.h"

namespace postern::session {

std::string seal_json(const boost::json::object& payload, std::string_view key, std::string_view purpose) {
  return core::base64url_encode(core::aead_seal(key, boost::json::serialize(payload), purpose));
}

std::optional<boost::json::object> open_json(std::string_view sealed, std::string_view key, std::string_view purpose) {
  if (sealed.empty() || sealed.size() > max_sealed_size) return std::nullopt;
  auto raw = core::base64url_decode(sealed);
  if (!raw) return std::nullopt;
  auto plain = core::aead_open(key, *raw, purpose);
  if (!plain) return std::nullopt;
  boost::system::error_code ec;
  auto value = boost::json::parse(*plain, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

std::string seal_handle(const Handle& handle, std::string_view key) {
  return seal_json({{"sid", handle.session_id}, {"exp", handle.expires_at}}, key, "postern session handle v1");
}

std::optional<Handle> open_handle(std::string_view sealed, std::string_view key, std::int64_t now) {
  auto obj = open_json(sealed, key, "postern session handle v1");
  if (!obj) return std::nullopt;
  const auto exp = core::json_int64(*obj, "exp");
  if (!exp) return std::nullopt;
  Handle h{core::json_string(*obj, "sid"), *exp};
  if (h.expires_at <= now || h.session_id.empty()) return std::nullopt;
  return h;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace postern::session
