#pragma once
// A signed-in session as the store keeps it. The browser only ever holds a sealed handle (see handle_codec.h).
#include <chrono>
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
  std::vector<std::string> groups;  // group names from the groups claim, when the IdP sent it
  std::string claims_json;          // every claim, ID token merged with userinfo, as a JSON object
  Claims claims;                    // claims_json indexed by path for policy (Claims::from_json(claims_json))
  std::string id_token;
  std::string access_token;
  std::string refresh_token;
  Clock::time_point issued_at;
  Clock::time_point expires_at;  // issued_at + cookie_expire
};

}  // namespace postern::session
