#pragma once
// A session as a shared store keeps it at rest: every field as JSON, sealed (ChaCha20-Poly1305) with a key derived
// from shared_secret and bound to the session id, so a database dump alone yields no token, no claim and no way to
// move a record to another id. Replicas sharing a store share shared_secret, so each can open what another wrote.
#include <memory>
#include <string>
#include <string_view>

#include "session/session.h"

namespace postern::store {

// 32 bytes from `shared_secret` (HKDF, its own label).
[[nodiscard]] std::string session_sealing_key(std::string_view shared_secret);
[[nodiscard]] std::string encode_session(const session::Session& s);
// Null when `json` is not a session this version wrote.
[[nodiscard]] std::shared_ptr<session::Session> decode_session(std::string_view json);
[[nodiscard]] std::string seal_session(const session::Session& s, std::string_view key);
// Null when `sealed` was not sealed with `key` for `id`, or was altered.
[[nodiscard]] std::shared_ptr<session::Session> open_session(std::string_view sealed, std::string_view id,
                                                             std::string_view key);

}  // namespace postern::store
