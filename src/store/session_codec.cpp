#include "store/session_codec.h"

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/json.h"

namespace postern::store {
namespace json = boost::json;
namespace {

constexpr std::string_view aad_prefix = "postern session v1:";

std::int64_t millis(session::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
session::Clock::time_point from_millis(std::int64_t ms) {
  return session::Clock::time_point(std::chrono::duration_cast<session::Clock::duration>(std::chrono::milliseconds(ms)));
}

}  // namespace

std::string session_sealing_key(std::string_view shared_secret) {
  return core::hkdf_sha256(shared_secret, "postern store: sessions at rest", 32);
}

std::string encode_session(const session::Session& s) {
  json::object o{{"v", 1},
                 {"id", s.id},
                 {"user", s.user_id},
                 {"email", s.email},
                 {"name", s.name},
                 {"extra", s.extra_claims},
                 {"idt", s.id_token.text()},
                 {"at", s.access_token},
                 {"rt", s.refresh_token},
                 {"nonce", s.nonce},
                 {"iat", millis(s.issued_at)},
                 {"exp", millis(s.expires_at)},
                 {"tok_exp", millis(s.tokens_expire_at)},
                 {"due", millis(s.refresh_due_at)},
                 {"fail", s.refresh_failures},
                 {"ver", s.version}};
  return json::serialize(o);
}

std::shared_ptr<session::Session> decode_session(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return nullptr;
  const auto& o = v.as_object();
  if (core::json_int64(o, "v").value_or(0) != 1) return nullptr;
  auto s = std::make_shared<session::Session>();
  auto str = [&](std::string_view k) { return core::json_string(o, k); };
  auto num = [&](std::string_view k) { return core::json_int64(o, k); };
  s->id = str("id");
  s->user_id = str("user");
  if (s->id.empty()) return nullptr;
  s->email = str("email");
  s->name = str("name");
  s->id_token = str("idt");
  s->access_token = str("at");
  s->refresh_token = str("rt");
  s->nonce = str("nonce");
  s->extra_claims = str("extra");
  s->claims = session::Claims::from_json(s->claims_json());
  const auto iat = num("iat"), exp = num("exp"), ver = num("ver");
  if (!iat || !exp || !ver || *ver <= 0) return nullptr;
  s->issued_at = from_millis(*iat);
  s->expires_at = from_millis(*exp);
  s->tokens_expire_at = from_millis(num("tok_exp").value_or(0));
  s->refresh_due_at = from_millis(num("due").value_or(0));
  s->refresh_failures = static_cast<std::uint32_t>(num("fail").value_or(0));
  s->version = static_cast<std::uint64_t>(*ver);
  return s;
}

std::string seal_session(const session::Session& s, std::string_view key) {
  return core::aead_seal(key, encode_session(s), std::string(aad_prefix) + s.id);
}

std::shared_ptr<session::Session> open_session(std::string_view sealed, std::string_view id, std::string_view key) {
  auto plain = core::aead_open(key, sealed, std::string(aad_prefix) + std::string(id));
  if (!plain) return nullptr;
  auto s = decode_session(*plain);
  if (!s || s->id != id) return nullptr;
  return s;
}

}  // namespace postern::store
