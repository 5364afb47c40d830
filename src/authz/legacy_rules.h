#pragma once
// Pomerium's route-level allow keys, lowered onto the policy language exactly as Pomerium does: one allow rule whose
// `or` holds `accept` (allow_public_unauthenticated_access), `cors_preflight` (cors_allow_preflight),
// `authenticated_user` (allow_any_authenticated_user), `domain is D` per allowed domain, `user is U` and `email is U`
// per allowed user, `groups has G` per allowed group (id or name), and `claim/K has V` per allowed_idp_claims value.
// The route's own `policy:` rules follow it.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "authz/policy.h"

namespace postern::authz {

struct LegacyKeys {
  bool public_access = false;
  bool cors_preflight = false;
  bool any_authenticated_user = false;
  std::vector<std::string> users;
  std::vector<std::string> domains;
  std::vector<std::string> groups;
  std::vector<std::pair<std::string, std::vector<std::string>>> idp_claims;  // claim → accepted values
  [[nodiscard]] bool empty() const noexcept {
    return !public_access && !cors_preflight && !any_authenticated_user && users.empty() && domains.empty() &&
           groups.empty() && idp_claims.empty();
  }
  [[nodiscard]] bool has_allow_list() const noexcept {
    return any_authenticated_user || !users.empty() || !domains.empty() || !groups.empty() || !idp_claims.empty();
  }
};

// Past this many entries, allowed_users and allowed_domains are lowered to one `in` criterion each instead of one
// `is` criterion per entry.
inline constexpr std::size_t inline_list_limit = 8;

// The allow rule for `keys`; nullopt when no key is set. `origin` names the keys for reasons.
[[nodiscard]] std::optional<RuleSpec> lower_legacy_keys(const LegacyKeys& keys);

}  // namespace postern::authz
