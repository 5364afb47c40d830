#pragma once
// A signed-in session as the store keeps it. The browser only ever holds a sealed handle (see handle_codec.h).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "session/claims.h"

namespace postern::session {

using Clock = std::chrono::system_clock;

struct Session {
  std::string id;       // 32 random bytes, base64url
  std::string user_id;  // the IdP's `sub` (Okta: 00u…)
  std::string email;
  std::string name;
  std::string claims_json;          // every claim, ID token merged with userinfo, as a JSON object
  Claims claims;                    // claims_json indexed by path for policy (Claims::from_json(claims_json))
  std::string id_token;
  // Only for a session without a refresh token (to revoke it at sign-out): with one, revoking the refresh token
  // revokes the access tokens minted with it (Okta), and a refresh reads userinfo with the new one it brings. Not
  // keeping it saves ~1 KiB per session.
  std::string access_token;
  std::string refresh_token;
  std::string nonce;  // the sign-in's nonce: a refreshed ID token that carries one must carry this one
  Clock::time_point issued_at;
  Clock::time_point expires_at;  // issued_at + cookie_expire: the absolute bound, never moved by a refresh

  // Refresh (see refresh/schedule.h). tokens_expire_at is when the access or ID token expires, whichever is first
  // (epoch: unknown, or nothing to refresh); refresh_due_at is when the next refresh is tried (before that expiry, or
  // a backoff after a failed try). Both stay epoch for a session without a refresh token.
  Clock::time_point tokens_expire_at{};
  Clock::time_point refresh_due_at{};
  std::uint32_t refresh_failures = 0;  // temporary failures since the last good refresh
  // Bumped by every change; a refresh writes its result only over the version it read (store::replace), so a
  // sign-out or a concurrent refresh is never overwritten.
  std::uint64_t version = 1;

  [[nodiscard]] bool refreshable() const noexcept { return !refresh_token.empty(); }
  // The tokens have expired and a refresh must succeed before the session is used again.
  [[nodiscard]] bool tokens_expired(Clock::time_point now) const noexcept {
    return refreshable() && tokens_expire_at != Clock::time_point{} && now >= tokens_expire_at;
  }
};

}  // namespace postern::session
