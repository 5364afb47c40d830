#include "authz/legacy_policy.h"

#include "core/strings.h"

namespace postern::authz {

Decision authorize(const config::RouteSettings& route, const session::Session* s) {
  if (route.allow_public_unauthenticated_access) return {Outcome::allow, "public route"};
  if (!route.unsupported_policy_keys.empty()) {
    std::string keys;
    for (const auto& k : route.unsupported_policy_keys) keys += (keys.empty() ? "" : ", ") + k;
    return {Outcome::deny, "route uses policy keys not supported yet (" + keys + ")"};
  }
  if (!s) return {Outcome::sign_in_required, "no session"};
  if (route.allow_any_authenticated_user) return {Outcome::allow, "any authenticated user"};
  const std::string email = core::to_lower(s->email);
  for (const auto& u : route.allowed_users) {
    if (u == s->user_id || (!email.empty() && core::to_lower(u) == email)) return {Outcome::allow, "allowed user"};
  }
  const auto at = email.rfind('@');
  if (at != std::string::npos) {
    const std::string domain = email.substr(at + 1);
    for (const auto& d : route.allowed_domains)
      if (d == domain) return {Outcome::allow, "allowed domain"};
  }
  return {Outcome::deny, "user is not in allowed_users or allowed_domains"};
}

}  // namespace postern::authz
