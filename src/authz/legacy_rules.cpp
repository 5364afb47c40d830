#include "authz/legacy_rules.h"

#include "authz/criteria.h"

namespace postern::authz {

std::optional<RuleSpec> lower_legacy_keys(const LegacyKeys& k) {
  if (k.empty()) return std::nullopt;
  OperatorSpec any;
  any.kind = OperatorKind::or_;
  std::string origin;
  auto named = [&](const char* key) { origin += (origin.empty() ? "" : ", ") + std::string(key); };
  auto is = [](const std::string& v) {
    StringMatcher m;
    m.add(StringMatcher::Op::is, v);
    return m;
  };
  auto has = [](const std::string& v) {
    StringListMatcher m;
    m.add(StringListMatcher::Op::has, v);
    return m;
  };
  if (k.public_access) {
    named("allow_public_unauthenticated_access");
    any.criteria.push_back(simple_criterion(CriterionKind::accept));
  }
  if (k.cors_preflight) {
    named("cors_allow_preflight");
    any.criteria.push_back(simple_criterion(CriterionKind::cors_preflight));
  }
  if (k.any_authenticated_user) {
    named("allow_any_authenticated_user");
    any.criteria.push_back(simple_criterion(CriterionKind::authenticated_user));
  }
  // Long lists become one `in` criterion (a sorted set: O(log n)); short ones stay one criterion per entry, which
  // reads better in reasons. Either way the rule means the same: any entry matching allows.
  auto add_any_of = [&](CriterionKind kind, const std::vector<std::string>& values) {
    if (values.size() <= inline_list_limit) {
      for (const auto& v : values) any.criteria.push_back(string_criterion(kind, is(v)));
    } else {
      StringMatcher m;
      m.add(StringMatcher::Op::in, values);
      any.criteria.push_back(string_criterion(kind, std::move(m)));
    }
  };
  if (!k.domains.empty()) named("allowed_domains");
  add_any_of(CriterionKind::domain, k.domains);
  if (!k.users.empty()) named("allowed_users");
  if (k.users.size() <= inline_list_limit) {
    for (const auto& u : k.users) {
      any.criteria.push_back(string_criterion(CriterionKind::user, is(u)));
      any.criteria.push_back(string_criterion(CriterionKind::email, is(u)));
    }
  } else {
    add_any_of(CriterionKind::user, k.users);
    add_any_of(CriterionKind::email, k.users);
  }
  if (!k.groups.empty()) named("allowed_groups");
  for (const auto& g : k.groups) any.criteria.push_back(list_criterion(CriterionKind::groups, {}, has(g)));
  if (!k.idp_claims.empty()) named("allowed_idp_claims");
  for (const auto& [claim, values] : k.idp_claims)
    for (const auto& v : values) any.criteria.push_back(list_criterion(CriterionKind::claim, claim, has(v)));
  RuleSpec rule;
  rule.action = Action::allow;
  rule.origin = origin;
  rule.operators.push_back(std::move(any));
  return rule;
}

}  // namespace postern::authz
