#pragma once
// A signed-in session as the store keeps it. The browser only ever holds a sealed handle (see handle_codec.h).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "session/claims.h"
#include "session/compact_jws.h"

namespace postern::session {

using Clock = std::chrono::system_clock;

struct Session {
  std::string id;       // 32 random bytes, base64url
  std::string user_id;  // the IdP's `sub` (Okta: 00u…)
  std::string email;
  std::string name;
  CompactJws id_token;  // held decoded: id_token.text() is the token as received
  // The claims userinfo added to the ID token's, as a JSON object ("" when none): with the ID token's own they are
  // all the claims (claims_json()). Kept apart so that the ID token's claims are not held twice (~0.5 KiB a session).
  std::string extra_claims;
  Claims claims;  // claims_json() indexed by path for policy (see Claims::index_only)
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
  // A refresh is planned: it has a due time before the session's absolute end (what stores index by due time).
  [[nodiscard]] bool refresh_scheduled() const noexcept {
    return refreshable() && refresh_due_at != Clock::time_point{} && refresh_due_at < expires_at;
  }
  // Every claim as a JSON object: the ID token's payload, then extra_claims (ID token first, as at sign-in).
  [[nodiscard]] std::string claims_json() const;
  // From all the claims (an ID token merged with userinfo) and id_token, already set: extra_claims and the index.
  void set_claims(std::string_view all_claims_json);
  // The tokens have expired and a refresh must succeed before the session is used again.
  [[nodiscard]] bool tokens_expired(Clock::time_point now) const noexcept {
    return refreshable() && tokens_expire_at != Clock::time_point{} && now >= tokens_expire_at;
  }
};

}  // namespace postern::session
