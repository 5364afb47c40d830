#include "authz/policy_parser.h"

#include <yaml-cpp/yaml.h>

#include "authz/criteria.h"

namespace postern::authz {
namespace {

class Parser {
 public:
  Parser(std::vector<RuleSpec>& rules, std::vector<ParseProblem>& problems) : rules_(rules), problems_(problems) {}

  void document(const YAML::Node& node, const std::string& key) {
    if (node.IsMap()) {
      rule(node, key, key);
    } else if (node.IsSequence()) {
      std::size_t i = 0;
      for (const auto& item : node) {
        const std::string k = key + "[" + std::to_string(i++) + "]";
        if (!item.IsMap()) {
          problem(item, k, "expected a rule: a map with allow and/or deny, got " + describe(item));
          continue;
        }
        rule(item, k, k);
      }
    } else {
      problem(node, key, "expected a policy rule (a map with allow and/or deny) or a list of them, got " +
                             describe(node));
    }
  }

 private:
  static int line(const YAML::Node& n) { return n.IsDefined() && !n.Mark().is_null() ? n.Mark().line : -1; }
  static std::string describe(const YAML::Node& n) {
    if (!n.IsDefined() || n.IsNull()) return "nothing";
    if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
    if (n.IsSequence()) return "a list";
    return "a map";
  }
  void problem(const YAML::Node& at, std::string key, std::string message, bool warning = false) {
    problems_.push_back({line(at), std::move(key), std::move(message), warning});
  }

  void rule(const YAML::Node& node, const std::string& key, const std::string& origin) {
    // Pomerium also reads the older form {action: allow|deny, and: [...], ...}.
    if (node["action"].IsDefined()) {
      const YAML::Node a = node["action"];
      const std::string action = a.IsScalar() ? a.Scalar() : "";
      if (action != "allow" && action != "deny") {
        problem(a, key + ".action", "expected allow or deny, got " + describe(a));
        return;
      }
      body(node, key, origin, action == "allow" ? Action::allow : Action::deny, true);
      return;
    }
    bool any = false;
    for (const auto& kv : node) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (name == "allow" || name == "deny") {
        any = true;
        if (!kv.second.IsMap()) {
          problem(kv.second, key + "." + name,
                  "expected a map of operators (and, or, not, nor), got " + describe(kv.second));
          continue;
        }
        body(kv.second, key + "." + name, origin, name == "allow" ? Action::allow : Action::deny, false);
      } else {
        problem(kv.first, key + "." + name, "unknown key in a policy rule (expected allow or deny)");
      }
    }
    if (!any && problems_.empty()) problem(node, key, "a policy rule needs allow, deny or both");
  }

  void body(const YAML::Node& node, const std::string& key, const std::string& origin, Action action,
            bool action_form) {
    if (rules_.size() >= max_policy_rules) {
      if (!too_many_rules_) problem(node, key, "more than " + std::to_string(max_policy_rules) + " policy rules on one route");
      too_many_rules_ = true;
      return;
    }
    RuleSpec spec;
    spec.action = action;
    spec.origin = origin;
    for (const auto& kv : node) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (action_form && name == "action") continue;
      OperatorKind kind;
      if (name == "and") kind = OperatorKind::and_;
      else if (name == "or") kind = OperatorKind::or_;
      else if (name == "not") kind = OperatorKind::not_;
      else if (name == "nor") kind = OperatorKind::nor;
      else {
        problem(kv.first, key + "." + name, "unknown operator (expected and, or, not or nor)");
        continue;
      }
      const std::string op_key = key + "." + name;
      if (!kv.second.IsSequence()) {
        problem(kv.second, op_key, "expected a list of criteria, got " + describe(kv.second));
        continue;
      }
      if (kv.second.size() == 0) {
        problem(kv.second, op_key, "an empty list of criteria (write at least one criterion, or remove " + name + ")");
        continue;
      }
      OperatorSpec op;
      op.kind = kind;
      std::size_t i = 0;
      for (const auto& item : kv.second) {
        if (criteria_ > max_policy_criteria) break;  // reported once; YAML aliases could repeat a list millions of times
        auto c = criterion(item, op_key + "[" + std::to_string(i++) + "]");
        if (c) op.criteria.push_back(std::move(*c));
      }
      spec.operators.push_back(std::move(op));
    }
    if (spec.operators.empty()) {
      if (node.size() == 0 || action_form)
        problem(node, key, "a rule body needs at least one operator (and, or, not, nor)");
      return;
    }
    rules_.push_back(std::move(spec));
  }

  std::optional<Criterion> criterion(const YAML::Node& node, const std::string& key) {
    if (++criteria_ > max_policy_criteria) {
      if (criteria_ == max_policy_criteria + 1)
        problem(node, key, "more than " + std::to_string(max_policy_criteria) + " criteria on one route");
      return std::nullopt;
    }
    if (!node.IsMap() || node.size() != 1) {
      problem(node, key, "expected a criterion: a map with exactly one key such as email: or claim/groups:, got " +
                             (node.IsMap() ? "a map with " + std::to_string(node.size()) + " keys" : describe(node)));
      return std::nullopt;
    }
    const auto kv = *node.begin();
    const std::string full = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node data = kv.second;
    const auto slash = full.find('/');
    const std::string name = full.substr(0, slash);
    const std::string sub = slash == std::string::npos ? "" : full.substr(slash + 1);
    const std::string k = key + "." + full;
    if (name == "and" || name == "or" || name == "not" || name == "nor") {
      problem(kv.first, k, "operators cannot be nested in Pomerium's policy language: write another rule instead");
      return std::nullopt;
    }
    static const std::pair<std::string_view, CriterionKind> kinds[] = {
        {"accept", CriterionKind::accept},
        {"reject", CriterionKind::reject},
        {"authenticated_user", CriterionKind::authenticated_user},
        {"user", CriterionKind::user},
        {"email", CriterionKind::email},
        {"domain", CriterionKind::domain},
        {"groups", CriterionKind::groups},
        {"claim", CriterionKind::claim},
        {"http_method", CriterionKind::http_method},
        {"http_path", CriterionKind::http_path},
        {"cors_preflight", CriterionKind::cors_preflight},
        {"source_ip", CriterionKind::source_ip},
        {"date", CriterionKind::date},
        {"day_of_week", CriterionKind::day_of_week},
        {"time_of_day", CriterionKind::time_of_day},
        {"pomerium_routes", CriterionKind::pomerium_routes},
        {"client_certificate", CriterionKind::client_certificate},
        {"invalid_client_certificate", CriterionKind::invalid_client_certificate},
    };
    std::optional<CriterionKind> kind;
    for (const auto& [n, kd] : kinds)
      if (n == name) kind = kd;
    if (!kind) {
      if (name == "device" || name == "record" || name == "mcp_tool" || name.starts_with("ssh_"))
        problem(kv.first, k, "not supported: the " + name + " criterion (Postern has no " +
                                 (name == "device" ? std::string("device identity")
                                  : name == "record" ? std::string("external data sources")
                                  : name == "mcp_tool" ? std::string("MCP routes")
                                                       : std::string("native SSH")) +
                                 ")");
      else
        problem(kv.first, k, "unknown criterion \"" + name + "\"");
      return std::nullopt;
    }
    if (*kind == CriterionKind::claim) {
      if (sub.empty()) {
        problem(kv.first, k, "claim needs the claim's name after a slash, as in claim/groups or claim/address.country");
        return std::nullopt;
      }
    } else if (!sub.empty()) {
      problem(kv.first, k, name + " takes no sub-path (only claim/<name> does)");
      return std::nullopt;
    }

    switch (*kind) {
      case CriterionKind::accept:
      case CriterionKind::reject:
      case CriterionKind::authenticated_user:
      case CriterionKind::cors_preflight:
      case CriterionKind::pomerium_routes:
      case CriterionKind::invalid_client_certificate:
        if (data.IsScalar() && (data.Scalar() == "false" || data.Scalar() == "no"))
          problem(data, k, name + "'s value is ignored, as in Pomerium: \"" + name + ": false\" still means " + name +
                               " (to invert it, put it under not:)",
                  true);
        return simple_criterion(*kind);
      case CriterionKind::user:
      case CriterionKind::email:
      case CriterionKind::domain:
      case CriterionKind::http_method:
      case CriterionKind::http_path: {
        auto m = string_matcher(data, k);
        if (!m) return std::nullopt;
        return string_criterion(*kind, std::move(*m));
      }
      case CriterionKind::groups:
      case CriterionKind::claim: {
        auto m = list_matcher(data, k);
        if (!m) return std::nullopt;
        return list_criterion(*kind, sub, std::move(*m));
      }
      case CriterionKind::source_ip: {
        std::vector<core::IpRange> ranges;
        auto add = [&](const YAML::Node& item) {
          auto r = item.IsScalar() ? core::parse_ip_range(item.Scalar()) : std::nullopt;
          if (!r) problem(item, k, "expected an IP address or CIDR range such as 10.0.0.0/8, got " + describe(item));
          else ranges.push_back(*r);
        };
        if (data.IsSequence()) {
          for (const auto& item : data) add(item);
          if (data.size() == 0) problem(data, k, "expected at least one IP address or CIDR range");
        } else {
          add(data);
        }
        if (ranges.empty()) return std::nullopt;
        return source_ip_criterion(std::move(ranges));
      }
      case CriterionKind::date:
      case CriterionKind::day_of_week:
      case CriterionKind::time_of_day: return time(*kind, data, k);
      case CriterionKind::client_certificate: {
        if (!data.IsMap() || data.size() == 0) {
          problem(data, k, "expected a certificate matcher: a map of fingerprint, spki_hash, san_dns, san_email or san_uri");
          return std::nullopt;
        }
        Criterion c = simple_criterion(CriterionKind::client_certificate);
        bool ok = true;
        for (const auto& m : data) {
          const std::string op = m.first.IsScalar() ? m.first.Scalar() : "";
          const std::string mk = k + "." + op;
          if (op == "fingerprint" || op == "spki_hash") {
            std::vector<std::string> values;
            if (m.second.IsSequence()) {
              for (const auto& item : m.second)
                if (auto v = scalar(item, mk)) values.push_back(*v);
                else ok = false;
            } else if (auto v = scalar(m.second, mk)) {
              values.push_back(*v);
            } else {
              ok = false;
            }
            for (auto& v : values) {
              if (op == "fingerprint") {
                // Hex, with or without colons, any case (as openssl x509 -fingerprint -sha256 prints it).
                std::string hex;
                for (const char ch : v)
                  if (ch != ':') hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
                  problem(m.second, mk, "expected a SHA-256 fingerprint: 64 hex digits, got \"" + v + "\"");
                  ok = false;
                }
                c.fingerprints.push_back(std::move(hex));
              } else {
                if (v.size() != 44 || v.back() != '=') {
                  problem(m.second, mk, "expected a SHA-256 SPKI hash in base64 (44 characters), got \"" + v + "\"");
                  ok = false;
                }
                c.spki_hashes.push_back(std::move(v));
              }
            }
          } else if (op == "san_dns" || op == "san_email" || op == "san_uri") {
            auto matcher = string_matcher(m.second, mk);
            if (!matcher) ok = false;
            else c.san_matchers.emplace_back(op == "san_dns" ? 0 : op == "san_email" ? 1 : 2, std::move(*matcher));
          } else {
            problem(m.first, mk, "unknown certificate matcher key (expected fingerprint, spki_hash, san_dns, san_email or san_uri)");
            ok = false;
          }
        }
        if (!ok) return std::nullopt;
        std::string text = "client_certificate matches";
        if (!c.fingerprints.empty()) text += " a fingerprint";
        if (!c.spki_hashes.empty()) text += " an SPKI hash";
        if (!c.san_matchers.empty()) text += " the SAN rules";
        c.text = text;
        return c;
      }
    }
    return std::nullopt;
  }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& key) {
    if (n.IsScalar() && !(n.Tag() == "?" && (n.Scalar() == "~" || n.Scalar() == "null"))) {
      if (n.Scalar().empty())
        problem(n, key, "an empty string: it matches only a value that is itself empty (a user without an email, "
                        "say)", true);
      return n.Scalar();
    }
    problem(n, key, "expected a string, got " + describe(n));
    return std::nullopt;
  }

  std::optional<StringMatcher> string_matcher(const YAML::Node& data, const std::string& key) {
    StringMatcher m;
    if (data.IsScalar()) {
      auto s = scalar(data, key);
      if (!s) return std::nullopt;
      m.add(StringMatcher::Op::is, std::move(*s));
      return m;
    }
    if (!data.IsMap()) {
      problem(data, key, "expected a string or a map of is, not, starts_with, ends_with, contains, in, not_in; got " +
                             describe(data) + (data.IsSequence() ? " (to match any of several values use in: [...])" : ""));
      return std::nullopt;
    }
    bool ok = true;
    for (const auto& kv : data) {
      const std::string op = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const std::string k = key + "." + op;
      using Op = StringMatcher::Op;
      static const std::pair<std::string_view, Op> ops[] = {{"is", Op::is},           {"not", Op::is_not},
                                                            {"starts_with", Op::starts_with},
                                                            {"ends_with", Op::ends_with},
                                                            {"contains", Op::contains}, {"in", Op::in},
                                                            {"not_in", Op::not_in}};
      std::optional<Op> found;
      for (const auto& [n, o] : ops)
        if (n == op) found = o;
      if (!found) {
        problem(kv.first, k, "unknown string matcher (expected is, not, starts_with, ends_with, contains, in or not_in)");
        ok = false;
        continue;
      }
      if (*found == Op::in || *found == Op::not_in) {
        std::vector<std::string> values;
        if (kv.second.IsSequence()) {
          for (const auto& item : kv.second) {
            auto s = scalar(item, k);
            if (!s) ok = false;
            else values.push_back(std::move(*s));
          }
        } else if (auto s = scalar(kv.second, k)) {
          values.push_back(std::move(*s));
        } else {
          ok = false;
        }
        m.add(*found, std::move(values));
      } else if (auto s = scalar(kv.second, k)) {
        m.add(*found, std::move(*s));
      } else {
        ok = false;
      }
    }
    if (ok && m.empty()) {
      problem(data, key, "an empty matcher (give is, starts_with, … or a plain string)");
      return std::nullopt;
    }
    if (!ok) return std::nullopt;
    return m;
  }

  std::optional<StringListMatcher> list_matcher(const YAML::Node& data, const std::string& key) {
    StringListMatcher m;
    if (data.IsScalar()) {
      auto s = scalar(data, key);
      if (!s) return std::nullopt;
      m.add(StringListMatcher::Op::has, std::move(*s));
      return m;
    }
    if (!data.IsMap()) {
      problem(data, key, "expected a string or a map of has, is, exclude; got " + describe(data) +
                             (data.IsSequence() ? " (for any of several values, write one criterion per value under or:)"
                                                : ""));
      return std::nullopt;
    }
    bool ok = true;
    for (const auto& kv : data) {
      const std::string op = kv.first.IsScalar() ? kv.first.Scalar() : "";
      using Op = StringListMatcher::Op;
      std::optional<Op> found;
      if (op == "has") found = Op::has;
      else if (op == "is") found = Op::is;
      else if (op == "exclude") found = Op::exclude;
      if (!found) {
        problem(kv.first, key + "." + op, "unknown string list matcher (expected has, is or exclude)");
        ok = false;
        continue;
      }
      if (auto s = scalar(kv.second, key + "." + op)) m.add(*found, std::move(*s));
      else ok = false;
    }
    if (ok && m.empty()) {
      problem(data, key, "an empty matcher (give has, is, exclude or a plain string)");
      return std::nullopt;
    }
    if (!ok) return std::nullopt;
    return m;
  }

  std::optional<Criterion> time(CriterionKind kind, const YAML::Node& data, const std::string& key) {
    TimeWindow w;
    std::string error;
    auto member = [&](const char* name) -> std::optional<std::string> {
      const YAML::Node n = data[name];
      if (!n.IsDefined() || n.IsNull()) return std::nullopt;
      if (!n.IsScalar()) {
        problem(n, key + "." + name, "expected a string, got " + describe(n));
        return std::string();
      }
      return n.Scalar();
    };
    auto check_keys = [&](std::initializer_list<std::string_view> allowed) {
      for (const auto& kv : data) {
        const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
        bool known = false;
        for (auto a : allowed) known |= a == k;
        if (!known) {
          std::string list;
          for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
          problem(kv.first, key + "." + k, "unknown key (expected " + list + ")");
        }
      }
    };
    const std::size_t before = problems_.size();
    if (kind == CriterionKind::day_of_week) {
      if (data.IsScalar()) {
        error = TimeWindow::make_days(data.Scalar(), {}, w);
      } else if (data.IsMap()) {
        check_keys({"timezone", "is"});
        auto days = member("is");
        auto zone = member("timezone");
        if (!days) error = "needs is: the days, as in is: mon-fri";
        else error = TimeWindow::make_days(*days, zone.value_or(""), w);
      } else {
        error = "expected days such as mon-fri, or {timezone: Europe/Paris, is: mon-fri}";
      }
    } else {
      if (!data.IsMap()) {
        problem(data, key, kind == CriterionKind::date ? "expected a map of after and/or before"
                                                        : "expected a map of timezone, after and/or before");
        return std::nullopt;
      }
      if (kind == CriterionKind::date) {
        check_keys({"after", "before"});
        const auto a = member("after"), b = member("before");
        error = TimeWindow::make_date(a ? std::optional<std::string_view>(*a) : std::nullopt,
                                      b ? std::optional<std::string_view>(*b) : std::nullopt, w);
      } else {
        check_keys({"timezone", "after", "before"});
        const auto z = member("timezone"), a = member("after"), b = member("before");
        error = TimeWindow::make_time_of_day(z.value_or(""), a ? std::optional<std::string_view>(*a) : std::nullopt,
                                             b ? std::optional<std::string_view>(*b) : std::nullopt, w);
      }
    }
    if (!error.empty()) problem(data, key, error);
    if (problems_.size() != before) return std::nullopt;
    return time_criterion(kind, std::move(w));
  }

  std::vector<RuleSpec>& rules_;
  std::vector<ParseProblem>& problems_;
  std::size_t criteria_ = 0;
  bool too_many_rules_ = false;
};

}  // namespace

void parse_policy(const YAML::Node& node, const std::string& key, std::vector<RuleSpec>& rules,
                  std::vector<ParseProblem>& problems) {
  Parser(rules, problems).document(node, key);
}

bool needs_client_certificates(const std::vector<RuleSpec>& rules) noexcept {
  for (const auto& r : rules)
    for (const auto& op : r.operators)
      for (const auto& c : op.criteria)
        if (c.kind == CriterionKind::client_certificate || c.kind == CriterionKind::invalid_client_certificate)
          return true;
  return false;
}

}  // namespace postern::authz
