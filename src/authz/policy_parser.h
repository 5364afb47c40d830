#pragma once
// Reads Pomerium's policy language from YAML into rule specs (see policy.h). A document is one rule object or a
// list of them; a rule has `allow` and/or `deny` bodies; a body has operators (`and`, `or`, `not`, `nor`), each a
// list of criteria; a criterion is a one-key map `name` or `name/sub-path` → data. Everything Pomerium would not
// accept, and everything Postern cannot honour, is a problem naming the key path and line; nothing is ignored.
#include <string>
#include <vector>

#include "authz/policy.h"

namespace YAML {
class Node;
}

namespace postern::authz {

struct ParseProblem {
  int line = -1;     // 0-based line of the offending node in its YAML text; -1 when unknown
  std::string key;   // "routes[0].policy[1].allow.or[0].email.starts_wth"
  std::string message;
  bool warning = false;  // accepted, but probably not what was meant
};

// Limits: a policy is written by people; past these it is a mistake or an attack on the loader.
inline constexpr std::size_t max_policy_criteria = 10000;
inline constexpr std::size_t max_policy_rules = 1000;

// Appends the rules of the PPL document at `node` to `rules`, problems to `problems`. `key` names the node
// ("routes[2].policy") and prefixes every rule's origin.
void parse_policy(const YAML::Node& node, const std::string& key, std::vector<RuleSpec>& rules,
                  std::vector<ParseProblem>& problems);

// The criteria that need downstream mTLS (client_certificate, invalid_client_certificate): used by `rules`?
[[nodiscard]] bool needs_client_certificates(const std::vector<RuleSpec>& rules) noexcept;

}  // namespace postern::authz
