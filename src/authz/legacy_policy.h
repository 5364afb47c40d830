#pragma once
// Authorization from Pomerium's route keys: allow_public_unauthenticated_access, allow_any_authenticated_user,
// allowed_users (user id or email) and allowed_domains, OR-ed. Three outcomes; anything Postern cannot evaluate
// denies. The richer policy language comes later and will compile into the same outcomes.
#include <string>

#include "config/settings.h"
#include "session/session.h"

namespace postern::authz {

enum class Outcome { allow, deny, sign_in_required };

struct Decision {
  Outcome outcome = Outcome::deny;
  std::string reason;  // for the authorize log; not shown to users
};

// `session` is null when the request carries none (or an invalid one).
[[nodiscard]] Decision authorize(const config::RouteSettings& route, const session::Session* session);

}  // namespace postern::authz
