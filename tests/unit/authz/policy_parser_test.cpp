// What the PPL parser refuses, and how it says so: every problem names the key path and line.
#include "authz/policy_parser.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace postern::authz {
namespace {

std::vector<ParseProblem> problems_of(const std::string& yaml) {
  std::vector<RuleSpec> rules;
  std::vector<ParseProblem> problems;
  parse_policy(YAML::Load(yaml), "routes[0].policy", rules, problems);
  return problems;
}

// The first problem as "line: key: message" (1-based line).
std::string first(const std::string& yaml) {
  const auto p = problems_of(yaml);
  if (p.empty()) return "(none)";
  return std::to_string(p[0].line + 1) + ": " + p[0].key + ": " + p[0].message;
}

TEST(PolicyParser, AcceptsPomeriumsForms) {
  EXPECT_TRUE(problems_of("allow: {and: [{domain: {is: example.com}}]}").empty());
  EXPECT_TRUE(problems_of("- allow: {or: [{email: a@b.c}]}\n- deny: {or: [{http_method: DELETE}]}").empty());
  EXPECT_TRUE(problems_of("allow:\n  and:\n    - claim/family_name: Smith\n  or:\n    - domain: {is: d1.com}").empty());
  EXPECT_TRUE(problems_of("{action: allow, or: [{accept: true}]}").empty());
  EXPECT_TRUE(problems_of("allow: {and: [{day_of_week: tue-fri}]}").empty());
  EXPECT_TRUE(problems_of("allow: {and: [{time_of_day: {timezone: UTC, after: '2:20:00', before: 4:30PM}}]}").empty());
  EXPECT_TRUE(problems_of("allow: {and: [{date: {after: '2020-01-02T16:20:00', before: '2150-01-02T16:20:00'}}]}").empty());
}

TEST(PolicyParser, NamesKeyAndLine) {
  EXPECT_EQ(first("allow:\n  or:\n    - emial: a@b.c\n"),
            "3: routes[0].policy.allow.or[0].emial: unknown criterion \"emial\"");
  EXPECT_EQ(first("allow:\n  or:\n    - email: {starts_wth: a}\n"),
            "3: routes[0].policy.allow.or[0].email.starts_wth: unknown string matcher (expected is, not, "
            "starts_with, ends_with, contains, in or not_in)");
  EXPECT_EQ(first("- allow: {or: [{accept: true}]}\n- alow: {or: []}\n"),
            "2: routes[0].policy[1].alow: unknown key in a policy rule (expected allow or deny)");
  EXPECT_EQ(first("allow: {xor: [{accept: true}]}"),
            "1: routes[0].policy.allow.xor: unknown operator (expected and, or, not or nor)");
}

TEST(PolicyParser, RefusesWhatPomeriumRefusesOrWouldSilentlyMisread) {
  struct Case {
    const char* yaml;
    const char* says;
  } cases[] = {
      {"allow: {or: []}", "an empty list of criteria"},
      {"allow: {or: {email: a}}", "expected a list of criteria"},
      {"allow: {}", "needs at least one operator"},
      {"allow: {or: [{email: a, domain: b}]}", "exactly one key"},
      {"allow: {or: [{and: [{accept: true}]}]}", "operators cannot be nested"},
      {"allow: {or: [{email: [a, b]}]}", "in: [...]"},
      {"allow: {or: [{groups: [a, b]}]}", "one criterion per value"},
      {"allow: {or: [{email: {}}]}", "an empty matcher"},
      {"allow: {or: [{email: {is: [a]}}]}", "expected a string"},
      {"allow: {or: [{email: ~}]}", "expected a string"},
      {"allow: {or: [{claim: x}]}", "claim needs the claim's name"},
      {"allow: {or: [{email/x: a}]}", "takes no sub-path"},
      {"allow: {or: [{groups: {contains: a}}]}", "unknown string list matcher"},
      {"allow: {or: [{source_ip: 10.0.0.0/33}]}", "IP address or CIDR"},
      {"allow: {or: [{source_ip: example.com}]}", "IP address or CIDR"},
      {"allow: {or: [{date: {after: yesterday}}]}", "ISO-8601"},
      {"allow: {or: [{date: {}}]}", "needs after, before or both"},
      {"allow: {or: [{day_of_week: mon-funday}]}", "day of week"},
      {"allow: {or: [{time_of_day: {after: '9:00'}}]}", "needs timezone"},
      {"allow: {or: [{time_of_day: {timezone: Mars/Olympus, after: '9:00'}}]}", "unknown time zone"},
      {"allow: {or: [{time_of_day: {timezone: UTC, after: '25:00'}}]}", "not a time of day"},
      {"allow: {or: [{time_of_day: {timezone: UTC, at: '9:00'}}]}", "unknown key"},
      {"allow: {or: [{device: {type: any}}]}", "not supported: the device criterion"},
      {"allow: {or: [{client_certificate: {serial: 1}}]}", "unknown certificate matcher key"},
      {"just a string", "expected a policy rule"},
      {"- 42", "expected a rule"},
      {"{action: maybe, or: [{accept: 1}]}", "expected allow or deny"},
  };
  for (const auto& c : cases) {
    const auto p = problems_of(c.yaml);
    ASSERT_FALSE(p.empty()) << c.yaml;
    EXPECT_NE(p[0].message.find(c.says), std::string::npos) << c.yaml << " → " << p[0].message;
  }
}

TEST(PolicyParser, WarnsWhenAValueIsIgnoredAsInPomerium) {
  const auto p = problems_of("allow: {or: [{authenticated_user: false}]}");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].warning);
  EXPECT_NE(p[0].message.find("still means authenticated_user"), std::string::npos);
}

TEST(PolicyParser, ClientCertificateCriteriaAreFlagged) {
  std::vector<RuleSpec> rules;
  std::vector<ParseProblem> problems;
  parse_policy(YAML::Load("deny: {or: [{invalid_client_certificate: true}]}"), "policy", rules, problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(needs_client_certificates(rules));
}

TEST(PolicyParser, BoundsTheNumberOfCriteria) {
  std::string yaml = "allow:\n  or:\n";
  for (std::size_t i = 0; i <= max_policy_criteria; ++i) yaml += "    - accept: true\n";
  const auto p = problems_of(yaml);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].message.find("more than 10000 criteria"), std::string::npos);
}

}  // namespace
}  // namespace postern::authz
