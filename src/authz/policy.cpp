#include "authz/policy.h"

#include "core/strings.h"

namespace postern::authz {

std::string_view to_string(Tri t) noexcept {
  switch (t) {
    case Tri::no: return "false";
    case Tri::yes: return "true";
    case Tri::unknown: return "unknown without a session";
  }
  return "?";
}

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::allow: return "allow";
    case Outcome::deny: return "deny";
    case Outcome::sign_in_required: return "sign-in-required";
  }
  return "?";
}

std::string_view criterion_name(CriterionKind k) noexcept {
  constexpr std::string_view names[] = {"accept",       "reject",         "authenticated_user", "user",
                                        "email",        "domain",         "groups",             "claim",
                                        "http_method",  "http_path",      "cors_preflight",     "source_ip",
                                        "date",         "day_of_week",    "time_of_day",        "pomerium_routes",
                                        "client_certificate", "invalid_client_certificate"};
  return names[static_cast<int>(k)];
}

std::string_view operator_name(OperatorKind k) noexcept {
  constexpr std::string_view names[] = {"and", "or", "not", "nor"};
  return names[static_cast<int>(k)];
}

bool Criterion::about_user() const noexcept {
  switch (kind) {
    case CriterionKind::authenticated_user:
    case CriterionKind::user:
    case CriterionKind::email:
    case CriterionKind::domain:
    case CriterionKind::groups:
    case CriterionKind::claim: return true;
    default: return false;
  }
}

Policy::Policy(std::vector<RuleSpec> rules) {
  for (auto& spec : rules) {
    Rule r{spec.action, static_cast<std::uint32_t>(ops_.size()), static_cast<std::uint32_t>(spec.operators.size()),
           spec.origin, core::json_escape(spec.origin)};
    for (auto& op : spec.operators) {
      ops_.push_back({op.kind, static_cast<std::uint32_t>(criteria_.size()),
                      static_cast<std::uint32_t>(op.criteria.size())});
      for (auto& c : op.criteria) {
        uses_user_ |= c.about_user();
        uses_source_ip_ |= c.kind == CriterionKind::source_ip;
        uses_time_ |= c.kind == CriterionKind::date || c.kind == CriterionKind::day_of_week ||
                      c.kind == CriterionKind::time_of_day;
        kinds_ |= 1u << static_cast<unsigned>(c.kind);
        criteria_json_.push_back(core::json_escape(c.text));
        criteria_.push_back(std::move(c));
      }
    }
    (r.action == Action::deny ? deny_rules_ : allow_rules_).push_back(static_cast<std::uint32_t>(rules_.size()));
    rules_.push_back(std::move(r));
  }
}

bool Policy::uses(CriterionKind k) const noexcept { return (kinds_ >> static_cast<unsigned>(k)) & 1u; }

namespace {
// Pomerium's certificate matcher: a valid certificate, and every condition the criterion names holds.
bool certificate_matches(const Criterion& c, const ClientCertificate* cert) noexcept {
  if (!cert || !cert->presented || !cert->valid) return false;
  auto in = [](const std::vector<std::string>& list, std::string_view v) {
    for (const auto& x : list)
      if (x == v) return true;
    return false;
  };
  if (!c.fingerprints.empty() && !in(c.fingerprints, cert->fingerprint)) return false;
  if (!c.spki_hashes.empty() && !in(c.spki_hashes, cert->spki_hash)) return false;
  for (const auto& [type, matcher] : c.san_matchers) {
    const auto sans = type == 0 ? cert->san_dns : type == 1 ? cert->san_email : cert->san_uri;
    bool any = false;
    for (const auto& san : sans) any = any || matcher.matches(san);
    if (!any) return false;
  }
  return true;
}
}  // namespace

Tri Policy::eval_criterion(std::uint32_t index, const Input& in, Decision& d) const noexcept {
  const Criterion& c = criteria_[index];
  Tri v = Tri::no;
  const Subject* s = in.subject;
  auto b = [](bool x) { return x ? Tri::yes : Tri::no; };
  switch (c.kind) {
    case CriterionKind::accept: v = Tri::yes; break;
    case CriterionKind::reject: v = Tri::no; break;
    case CriterionKind::authenticated_user: v = s ? b(!s->user_id.empty()) : Tri::unknown; break;
    case CriterionKind::user: v = s ? b(c.string.matches(s->user_id)) : Tri::unknown; break;
    case CriterionKind::email: v = s ? b(c.string.matches(s->email)) : Tri::unknown; break;
    case CriterionKind::domain:
      if (!s) {
        v = Tri::unknown;
      } else {
        const auto at = s->email.rfind('@');
        v = b(c.string.matches(at == std::string_view::npos ? std::string_view() : s->email.substr(at + 1)));
      }
      break;
    case CriterionKind::groups: v = s ? b(c.list.matches(s->groups)) : Tri::unknown; break;
    case CriterionKind::claim:
      if (!s) {
        v = Tri::unknown;
      } else {
        const core::StringSet* values = nullptr;
        if (s->claims)
          for (const auto& p : c.claim_paths)
            if ((values = s->claims->find(p))) break;
        v = b(c.list.matches(values));
      }
      break;
    case CriterionKind::http_method: v = b(c.string.matches(in.method)); break;
    case CriterionKind::http_path: v = b(c.string.matches(in.path)); break;
    case CriterionKind::cors_preflight: v = b(in.cors_preflight); break;
    case CriterionKind::source_ip:
      if (!in.source_ip) d.indeterminate = true;
      else
        for (const auto& r : c.ranges)
          if (r.contains(*in.source_ip)) {
            v = Tri::yes;
            break;
          }
      break;
    case CriterionKind::date:
    case CriterionKind::day_of_week:
    case CriterionKind::time_of_day: {
      bool error = false;
      v = b(c.time.matches(in.now, &error));
      if (error) d.indeterminate = true;
      break;
    }
    case CriterionKind::pomerium_routes: v = b(in.path == "/.pomerium" || in.path.starts_with("/.pomerium/")); break;
    case CriterionKind::client_certificate: v = b(certificate_matches(c, in.client_certificate)); break;
    case CriterionKind::invalid_client_certificate:
      v = b(!in.client_certificate || !in.client_certificate->valid);
      break;
  }
  if (index < Decision::traced) {
    const std::uint64_t bit = std::uint64_t{1} << index;
    d.evaluated |= bit;
    if (v == Tri::yes) d.held |= bit;
    if (v == Tri::unknown) d.unknown |= bit;
  }
  return v;
}

Tri Policy::eval_operator(const Operator& op, const Input& in, Decision& d) const noexcept {
  // and: every criterion true; or: any; not: none true (¬A ∧ ¬B); nor: not all true (¬A ∨ ¬B).
  // `decisive` ends the operator early with `result_if_decisive`; an unknown keeps the result unknown unless a
  // decisive value follows.
  Tri decisive, if_decisive, otherwise;
  switch (op.kind) {
    case OperatorKind::and_: decisive = Tri::no, if_decisive = Tri::no, otherwise = Tri::yes; break;
    case OperatorKind::or_: decisive = Tri::yes, if_decisive = Tri::yes, otherwise = Tri::no; break;
    case OperatorKind::not_: decisive = Tri::yes, if_decisive = Tri::no, otherwise = Tri::yes; break;
    case OperatorKind::nor: decisive = Tri::no, if_decisive = Tri::yes, otherwise = Tri::no; break;
    default: return Tri::no;
  }
  bool unknown = false;
  for (std::uint32_t i = op.first; i < op.first + op.count; ++i) {
    const Tri v = eval_criterion(i, in, d);
    if (v == decisive) return if_decisive;
    if (v == Tri::unknown) unknown = true;
  }
  return unknown ? Tri::unknown : otherwise;
}

Tri Policy::eval_rule(const Rule& r, const Input& in, Decision& d) const noexcept {
  bool unknown = false;
  for (std::uint32_t i = r.first; i < r.first + r.count; ++i) {
    const Tri v = eval_operator(ops_[i], in, d);
    if (v == Tri::yes) return Tri::yes;
    if (v == Tri::unknown) unknown = true;
  }
  return unknown ? Tri::unknown : Tri::no;
}

Decision Policy::evaluate(const Input& in) const noexcept {
  Decision d;
  d.deny = Tri::no;
  for (const auto i : deny_rules_) {
    const Tri v = eval_rule(rules_[i], in, d);
    if (v == Tri::yes) {
      d.deny = Tri::yes;
      d.rule = static_cast<int>(i);
      d.outcome = Outcome::deny;
      return d;  // deny wins: the allow side cannot change the outcome
    }
    if (v == Tri::unknown) d.deny = Tri::unknown;
  }
  d.allow = Tri::no;
  for (const auto i : allow_rules_) {
    const Tri v = eval_rule(rules_[i], in, d);
    if (v == Tri::yes) {
      d.allow = Tri::yes;
      d.rule = static_cast<int>(i);
      break;
    }
    if (v == Tri::unknown) d.allow = Tri::unknown;
  }
  if (d.allow == Tri::no) d.outcome = Outcome::deny;  // whatever the deny side, nothing allows
  else if (d.deny == Tri::no && d.allow == Tri::yes) d.outcome = Outcome::allow;
  else d.outcome = Outcome::sign_in_required;  // who the user is decides
  if (d.indeterminate) d.outcome = Outcome::deny;  // fail closed
  if (d.outcome != Outcome::allow) d.rule = -1;
  return d;
}

std::size_t Policy::explain(const Decision& d, std::span<ReasonText> out, bool json) const noexcept {
  // The fixed text below holds no character JSON escapes; only the configured texts need their escaped copies.
  auto origin = [&](const Rule& r) -> std::string_view { return json ? r.origin_json : r.origin; };
  auto text = [&](std::uint32_t i) -> std::string_view { return json ? criteria_json_[i] : criteria_[i].text; };
  std::size_t n = 0;
  auto add = [&](ReasonText r) {
    if (n < out.size()) out[n++] = r;
  };
  auto action_name = [](Action a) -> std::string_view { return a == Action::allow ? "allow" : "deny"; };
  auto criteria_of = [&](std::uint32_t rule_index, bool only_unknown) {
    const Rule& r = rules_[rule_index];
    for (std::uint32_t o = r.first; o < r.first + r.count; ++o) {
      const Operator& op = ops_[o];
      for (std::uint32_t i = op.first; i < op.first + op.count && i < Decision::traced; ++i) {
        const std::uint64_t bit = std::uint64_t{1} << i;
        if (!(d.evaluated & bit)) continue;
        const Tri v = (d.held & bit) ? Tri::yes : (d.unknown & bit) ? Tri::unknown : Tri::no;
        if (only_unknown && v != Tri::unknown) continue;
        add({origin(r), " ", action_name(r.action), ".", operator_name(op.kind), ": ", text(i),
             v == Tri::yes ? " → true" : v == Tri::no ? " → false" : " → unknown without a session"});
      }
    }
  };
  if (rules_.empty()) {
    add({"the route's policy has no rules, so it denies everyone"});
    return n;
  }
  if (d.indeterminate)
    add({"a criterion could not be evaluated (no usable client address for source_ip, or a time zone failed): "
         "denied"});
  switch (d.outcome) {
    case Outcome::deny:
      if (d.deny == Tri::yes && d.rule >= 0) {
        add({"denied by the deny rule of ", origin(rules_[d.rule])});
        criteria_of(static_cast<std::uint32_t>(d.rule), false);
      } else {
        add({allow_rules_.empty() ? "no allow rule: the policy denies by default" : "no allow rule holds"});
        for (const auto i : allow_rules_) criteria_of(i, false);
      }
      break;
    case Outcome::allow:
      add({"allowed by the allow rule of ", origin(rules_[d.rule])});
      criteria_of(static_cast<std::uint32_t>(d.rule), false);
      break;
    case Outcome::sign_in_required:
      add({"the decision depends on who the user is: sign-in needed"});
      for (const auto i : deny_rules_) criteria_of(i, true);
      for (const auto i : allow_rules_) criteria_of(i, true);
      break;
  }
  return n;
}

std::vector<std::string> Policy::reasons(const Decision& d) const {
  std::array<ReasonText, Decision::traced + 1> texts{};
  const std::size_t n = explain(d, texts);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string line;
    for (const auto piece : texts[i]) line += piece;
    out.push_back(std::move(line));
  }
  return out;
}

std::vector<std::string> Policy::describe() const {
  std::vector<std::string> out;
  for (const auto& r : rules_) {
    std::string line = std::string(r.action == Action::allow ? "allow" : "deny") + " (" + r.origin + "):";
    for (std::uint32_t o = r.first; o < r.first + r.count; ++o) {
      const Operator& op = ops_[o];
      line += o == r.first ? " " : " OR ";
      line += std::string(operator_name(op.kind)) + "[";
      for (std::uint32_t i = op.first; i < op.first + op.count; ++i) {
        if (i != op.first) line += "; ";
        line += criteria_[i].text;
      }
      line += "]";
    }
    out.push_back(std::move(line));
  }
  if (out.empty()) out.emplace_back("(no rules: everyone is denied)");
  return out;
}

void Policy::claim_paths(std::vector<std::string>& out) const {
  for (const auto& c : criteria_)
    if (c.kind == CriterionKind::claim) out.insert(out.end(), c.claim_paths.begin(), c.claim_paths.end());
}

}  // namespace postern::authz
