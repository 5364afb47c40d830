// The policy engine's semantics, table by table: every criterion, matcher and operator, deny over allow, default
// deny, the three-valued sign-in logic, legacy lowering and the reasons a decision carries.
#include "authz/policy.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "authz/legacy_rules.h"
#include "authz/policy_parser.h"

namespace postern::authz {
namespace {

Policy compile(const std::string& yaml) {
  std::vector<RuleSpec> rules;
  std::vector<ParseProblem> problems;
  parse_policy(YAML::Load(yaml), "policy", rules, problems);
  for (const auto& p : problems)
    if (!p.warning) ADD_FAILURE() << p.key << ": " << p.message << "\n" << yaml;
  return Policy(std::move(rules));
}

struct User {
  std::string id = "00u1";
  std::string email = "alice@example.com";
  std::vector<std::string> groups;
  std::string claims_json = "{}";
};

struct Request {
  std::string method = "GET";
  std::string path = "/";
  std::string ip = "10.1.2.3";
  bool preflight = false;
  TimePoint now = *parse_iso8601("2026-12-02T15:00:00Z");  // a Wednesday
};

Outcome decide(const Policy& p, const std::optional<User>& user, const Request& r = {}) {
  core::StringSet groups;
  session::Claims claims;
  Subject s;
  Input in;
  if (user) {
    groups = core::StringSet(user->groups);
    claims = session::Claims::from_json(user->claims_json);
    s = {user->id, user->email, &groups, &claims};
    in.subject = &s;
  }
  in.method = r.method;
  in.path = r.path;
  in.source_ip = core::parse_ip(r.ip);
  in.cors_preflight = r.preflight;
  in.now = r.now;
  return p.evaluate(in).outcome;
}

constexpr auto allow = Outcome::allow;
constexpr auto deny = Outcome::deny;
constexpr auto sign_in = Outcome::sign_in_required;

TEST(Policy, EmptyPolicyDeniesEveryone) {
  const Policy p;
  EXPECT_EQ(decide(p, User{}), deny);
  EXPECT_EQ(decide(p, std::nullopt), deny);
}

TEST(Policy, AcceptRejectAndAuthenticatedUser) {
  EXPECT_EQ(decide(compile("allow: {or: [{accept: true}]}"), std::nullopt), allow);
  EXPECT_EQ(decide(compile("allow: {or: [{reject: true}]}"), User{}), deny);
  const auto any = compile("allow: {or: [{authenticated_user: true}]}");
  EXPECT_EQ(decide(any, User{}), allow);
  EXPECT_EQ(decide(any, std::nullopt), sign_in);
  EXPECT_EQ(decide(any, User{.id = ""}), deny);
}

TEST(Policy, StringMatchers) {
  struct Case {
    const char* matcher;
    const char* email;
    bool match;
  } cases[] = {
      {"alice@example.com", "alice@example.com", true},
      {"alice@example.com", "Alice@example.com", false},  // case-sensitive, as in Pomerium
      {"{is: alice@example.com}", "alice@example.com", true},
      {"{not: alice@example.com}", "alice@example.com", false},
      {"{not: alice@example.com}", "bob@example.com", true},
      {"{starts_with: admin@}", "admin@example.com", true},
      {"{starts_with: admin@}", "xadmin@example.com", false},
      {"{ends_with: '@example.com'}", "bob@example.com", true},
      {"{ends_with: '@example.com'}", "bob@example.com.evil", false},
      {"{contains: ob@ex}", "bob@example.com", true},
      {"{contains: zz}", "bob@example.com", false},
      {"{in: [a@x.io, bob@example.com]}", "bob@example.com", true},
      {"{in: [a@x.io, b@x.io]}", "bob@example.com", false},
      {"{not_in: [a@x.io, b@x.io]}", "bob@example.com", true},
      {"{not_in: [bob@example.com]}", "bob@example.com", false},
      {"{ends_with: '@example.com', not: root@example.com}", "root@example.com", false},  // every operator holds
      {"{ends_with: '@example.com', not: root@example.com}", "bob@example.com", true},
  };
  for (const auto& c : cases) {
    const auto p = compile(std::string("allow: {and: [{email: ") + c.matcher + "}]}");
    EXPECT_EQ(decide(p, User{.email = c.email}), c.match ? allow : deny) << c.matcher << " vs " << c.email;
  }
}

TEST(Policy, UserDomainMethodPath) {
  EXPECT_EQ(decide(compile("allow: {and: [{user: 00u1}]}"), User{}), allow);
  EXPECT_EQ(decide(compile("allow: {and: [{user: 00u2}]}"), User{}), deny);
  EXPECT_EQ(decide(compile("allow: {and: [{domain: example.com}]}"), User{}), allow);
  EXPECT_EQ(decide(compile("allow: {and: [{domain: example.com}]}"), User{.email = "a@sub.example.com"}), deny);
  EXPECT_EQ(decide(compile("allow: {and: [{domain: example.com}]}"), User{.email = "no-at-sign"}), deny);
  const auto get_only = compile("allow: {and: [{http_method: GET}]}");
  EXPECT_EQ(decide(get_only, std::nullopt, {.method = "GET"}), allow);
  EXPECT_EQ(decide(get_only, std::nullopt, {.method = "POST"}), deny);
  const auto api = compile("allow: {and: [{http_path: {starts_with: /api/}}]}");
  EXPECT_EQ(decide(api, std::nullopt, {.path = "/api/x"}), allow);
  EXPECT_EQ(decide(api, std::nullopt, {.path = "/API/x"}), deny);
}

TEST(Policy, GroupsListMatcher) {
  const User admin{.groups = {"00g1", "admins", "devs"}};
  const User solo{.groups = {"admins"}};
  const User none{};
  struct Case {
    const char* matcher;
    const User* user;
    bool match;
  } cases[] = {
      {"admins", &admin, true},         {"{has: admins}", &admin, true},    {"{has: ops}", &admin, false},
      {"{has: Admins}", &admin, false},  {"{is: admins}", &solo, true},      {"{is: admins}", &admin, false},
      {"{exclude: ops}", &admin, true},  {"{exclude: devs}", &admin, false}, {"{exclude: devs}", &none, true},
      {"{has: admins}", &none, false},   {"{has: admins, exclude: devs}", &admin, false},
      {"{has: admins, exclude: ops}", &admin, true},
  };
  for (const auto& c : cases) {
    const auto p = compile(std::string("allow: {and: [{groups: ") + c.matcher + "}]}");
    EXPECT_EQ(decide(p, *c.user), c.match ? allow : deny) << c.matcher;
  }
}

TEST(Policy, GroupsWithTwoHundredGroups) {
  User u;
  for (int i = 0; i < 200; ++i) u.groups.push_back("group-" + std::to_string(i));
  EXPECT_EQ(decide(compile("allow: {and: [{groups: {has: group-137}}]}"), u), allow);
  EXPECT_EQ(decide(compile("allow: {and: [{groups: {has: group-200}}]}"), u), deny);
}

TEST(Policy, Claims) {
  const User u{.claims_json = R"({"department":"eng","roles":["a","b"],"address":{"country":"FR"},
                                  "email_verified":true,"level":3,"org":{"unit":{"team":"core"}}})"};
  struct Case {
    const char* criterion;
    bool match;
  } cases[] = {
      {"claim/department: eng", true},          {"claim/department: Eng", false},
      {"claim/roles: b", true},                 {"claim/roles: {is: b}", false},
      {"claim/roles: {exclude: c}", true},      {"claim/address/country: FR", true},
      {"claim/address.country: FR", true},      {"claim/email_verified: true", true},
      {"claim/level: 3", true},                 {"claim/org.unit.team: core", true},
      {"claim/missing: x", false},              {"claim/missing: {exclude: x}", true},
  };
  for (const auto& c : cases) {
    const auto p = compile(std::string("allow: {and: [{") + c.criterion + "}]}");
    EXPECT_EQ(decide(p, u), c.match ? allow : deny) << c.criterion;
  }
  EXPECT_EQ(decide(compile("allow: {and: [{claim/department: eng}]}"), std::nullopt), sign_in);
}

TEST(Policy, CorsPreflightAndSourceIp) {
  const auto cors = compile("allow: {or: [{cors_preflight: true}]}");
  EXPECT_EQ(decide(cors, std::nullopt, {.method = "OPTIONS", .preflight = true}), allow);
  EXPECT_EQ(decide(cors, std::nullopt, {.method = "OPTIONS"}), deny);
  const auto office = compile("allow: {or: [{source_ip: [10.0.0.0/8, '2001:db8::/32']}]}");
  EXPECT_EQ(decide(office, std::nullopt, {.ip = "10.200.0.1"}), allow);
  EXPECT_EQ(decide(office, std::nullopt, {.ip = "11.0.0.1"}), deny);
  EXPECT_EQ(decide(office, std::nullopt, {.ip = "2001:db8::7"}), allow);
  EXPECT_EQ(decide(office, std::nullopt, {.ip = "::ffff:10.0.0.9"}), allow);  // IPv4-mapped
  EXPECT_EQ(decide(compile("allow: {or: [{source_ip: 192.168.1.5}]}"), std::nullopt, {.ip = "192.168.1.5"}), allow);
  EXPECT_EQ(decide(compile("allow: {or: [{source_ip: 192.168.1.5}]}"), std::nullopt, {.ip = "192.168.1.6"}), deny);
}

TEST(Policy, OperatorTruthTables) {
  // A = method is GET, B = path is /b. Each row: GET?, /b?, then and, or, not (neither), nor (not both).
  struct Row {
    bool a, b, and_, or_, not_, nor;
  } rows[] = {
      {false, false, false, false, true, true},
      {false, true, false, true, false, true},
      {true, false, false, true, false, true},
      {true, true, true, true, false, false},
  };
  for (const char* op : {"and", "or", "not", "nor"}) {
    const auto p = compile(std::string("allow: {") + op + ": [{http_method: GET}, {http_path: /b}]}");
    for (const auto& r : rows) {
      const bool expected = std::string(op) == "and" ? r.and_ : std::string(op) == "or" ? r.or_
                            : std::string(op) == "not" ? r.not_ : r.nor;
      EXPECT_EQ(decide(p, std::nullopt, {.method = r.a ? "GET" : "POST", .path = r.b ? "/b" : "/x"}),
                expected ? allow : deny)
          << op << " a=" << r.a << " b=" << r.b;
    }
  }
}

TEST(Policy, OperatorsInOneRuleAreOred) {
  const auto p = compile("allow: {and: [{http_method: GET}, {http_path: /a}], or: [{http_path: /b}]}");
  EXPECT_EQ(decide(p, std::nullopt, {.method = "GET", .path = "/a"}), allow);
  EXPECT_EQ(decide(p, std::nullopt, {.method = "POST", .path = "/b"}), allow);
  EXPECT_EQ(decide(p, std::nullopt, {.method = "POST", .path = "/a"}), deny);
}

TEST(Policy, DenyWinsOverAllow) {
  const auto p = compile(R"(
- allow: {or: [{domain: example.com}]}
- deny: {or: [{http_method: DELETE}, {email: mallory@example.com}]}
)");
  EXPECT_EQ(decide(p, User{}), allow);
  EXPECT_EQ(decide(p, User{}, {.method = "DELETE"}), deny);
  EXPECT_EQ(decide(p, User{.email = "mallory@example.com"}), deny);
  EXPECT_EQ(decide(p, User{.email = "bob@other.com"}), deny);
  // A deny only rule: nothing allows.
  EXPECT_EQ(decide(compile("deny: {or: [{http_method: DELETE}]}"), User{}), deny);
}

TEST(Policy, SignInOnlyWhenWhoTheUserIsCouldChangeTheAnswer) {
  const auto p = compile(R"(
- allow: {and: [{email: alice@example.com}, {http_method: GET}]}
)");
  EXPECT_EQ(decide(p, std::nullopt, {.method = "GET"}), sign_in);
  EXPECT_EQ(decide(p, std::nullopt, {.method = "POST"}), deny);  // no identity could allow a POST
  // A deny about the user must be ruled out before a public allow admits anyone.
  const auto q = compile("[{allow: {or: [{accept: true}]}}, {deny: {or: [{email: mallory@example.com}]}}]");
  EXPECT_EQ(decide(q, std::nullopt), sign_in);
  EXPECT_EQ(decide(q, User{}), allow);
  // A deny that holds whoever the user is needs no sign-in.
  const auto r = compile("[{allow: {or: [{domain: example.com}]}}, {deny: {or: [{http_method: DELETE}]}}]");
  EXPECT_EQ(decide(r, std::nullopt, {.method = "DELETE"}), deny);
  EXPECT_EQ(decide(r, std::nullopt, {.method = "GET"}), sign_in);
  // `not` over an unknown stays unknown.
  EXPECT_EQ(decide(compile("allow: {not: [{email: mallory@example.com}]}"), std::nullopt), sign_in);
}

TEST(Policy, TimeCriteria) {
  const auto business = compile(R"(
allow:
  and:
    - day_of_week: mon-fri
    - time_of_day: {timezone: America/New_York, after: "9:00", before: 5PM}
    - date: {after: 2026-01-01, before: "2027-01-01T00:00:00Z"}
)");
  auto at = [](const char* t) { return Request{.now = *parse_iso8601(t)}; };
  EXPECT_EQ(decide(business, std::nullopt, at("2026-12-02T15:00:00Z")), allow);  // Wed 10:00 in New York
  EXPECT_EQ(decide(business, std::nullopt, at("2026-12-02T13:59:00Z")), deny);   // 08:59
  EXPECT_EQ(decide(business, std::nullopt, at("2026-12-02T22:00:00Z")), deny);   // 17:00: before is exclusive
  EXPECT_EQ(decide(business, std::nullopt, at("2026-12-05T15:00:00Z")), deny);   // Saturday
  EXPECT_EQ(decide(business, std::nullopt, at("2027-01-04T15:00:00Z")), deny);   // past the date range
  EXPECT_EQ(decide(business, std::nullopt, at("2026-07-01T13:30:00Z")), allow);  // summer time: 09:30 EDT
}

TEST(Policy, LegacyKeysLowered) {
  LegacyKeys k;
  k.users = {"alice@example.com", "00u9"};
  k.domains = {"corp.example"};
  k.groups = {"admins"};
  k.idp_claims = {{"department", {"eng", "ops"}}};
  const Policy p({*lower_legacy_keys(k)});
  EXPECT_EQ(decide(p, User{}), allow);                                     // email
  EXPECT_EQ(decide(p, User{.id = "00u9", .email = "x@y.z"}), allow);       // user id
  EXPECT_EQ(decide(p, User{.email = "bob@corp.example"}), allow);          // domain
  EXPECT_EQ(decide(p, User{.email = "b@x.io", .groups = {"admins"}}), allow);  // group
  EXPECT_EQ(decide(p, User{.email = "b@x.io", .claims_json = R"({"department":["ops"]})"}), allow);
  EXPECT_EQ(decide(p, User{.email = "b@x.io"}), deny);
  EXPECT_EQ(decide(p, std::nullopt), sign_in);
  LegacyKeys pub;
  pub.public_access = true;
  EXPECT_EQ(decide(Policy({*lower_legacy_keys(pub)}), std::nullopt), allow);
  EXPECT_FALSE(Policy({*lower_legacy_keys(pub)}).uses_user());
  LegacyKeys cors;
  cors.cors_preflight = true;
  cors.any_authenticated_user = true;
  const Policy c({*lower_legacy_keys(cors)});
  EXPECT_EQ(decide(c, std::nullopt, {.method = "OPTIONS", .preflight = true}), allow);
  EXPECT_EQ(decide(c, std::nullopt, {.method = "GET"}), sign_in);
  EXPECT_FALSE(lower_legacy_keys(LegacyKeys{}));
}

TEST(Policy, ReasonsNameTheRuleAndTheCriteria) {
  const auto p = compile(R"(
- allow: {or: [{domain: example.com}]}
- deny: {or: [{http_method: DELETE}]}
)");
  core::StringSet groups;
  session::Claims claims;
  Subject s{"00u1", "alice@example.com", &groups, &claims};
  Input in{&s, "DELETE", "/", std::nullopt, false, {}};
  const auto d = p.evaluate(in);
  EXPECT_EQ(d.outcome, deny);
  const auto reasons = p.reasons(d);
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0], "denied by the deny rule of policy[1]");
  EXPECT_EQ(reasons[1], "policy[1] deny.or: http_method is \"DELETE\" → true");
  in.method = "GET";
  s.email = "bob@other.com";
  const auto d2 = p.evaluate(in);
  const auto r2 = p.reasons(d2);
  ASSERT_EQ(r2.size(), 2u);
  EXPECT_EQ(r2[0], "no allow rule holds");
  EXPECT_EQ(r2[1], "policy[0] allow.or: domain is \"example.com\" → false");
  in.subject = nullptr;
  const auto r3 = p.reasons(p.evaluate(in));
  EXPECT_EQ(r3.back(), "policy[0] allow.or: domain is \"example.com\" → unknown without a session");
}

}  // namespace
}  // namespace postern::authz

namespace postern::authz {
namespace {

TEST(Policy, LongLegacyListsBecomeOneSetLookup) {
  LegacyKeys k;
  for (int i = 0; i < 100; ++i) k.users.push_back("user" + std::to_string(i) + "@example.com");
  k.domains = {"a.example", "b.example"};
  const Policy p({*lower_legacy_keys(k)});
  EXPECT_EQ(p.criterion_count(), 4u);  // domain × 2, user in, email in
  EXPECT_EQ(decide(p, User{.email = "user42@example.com"}), allow);
  EXPECT_EQ(decide(p, User{.id = "user7@example.com", .email = "x@y.z"}), allow);
  EXPECT_EQ(decide(p, User{.email = "bob@b.example"}), allow);
  EXPECT_EQ(decide(p, User{.email = "user100@example.com"}), deny);
  const auto lines = p.describe();
  EXPECT_NE(lines[0].find("user in [\"user0@example.com\", \"user1@example.com\", \"user2@example.com\", "
                          "\"user3@example.com\", \"user4@example.com\", … 95 more]"),
            std::string::npos)
      << lines[0];
}

}  // namespace
}  // namespace postern::authz

namespace postern::authz {
namespace {

TEST(Policy, FailsClosedWhenACriterionCannotBeEvaluated) {
  // A deny on an address range must not read "not denied" when the client address is unknown.
  const auto p = compile("[{allow: {or: [{authenticated_user: true}]}}, {deny: {or: [{source_ip: 10.0.0.0/8}]}}]");
  EXPECT_EQ(decide(p, User{}, {.ip = "192.0.2.1"}), allow);
  EXPECT_EQ(decide(p, User{}, {.ip = "not-an-address"}), deny);
  core::StringSet groups;
  session::Claims claims;
  Subject s{"00u1", "a@b.c", &groups, &claims};
  Input in{&s, "GET", "/", std::nullopt, false, {}};
  const auto d = p.evaluate(in);
  EXPECT_TRUE(d.indeterminate);
  EXPECT_NE(p.reasons(d).front().find("could not be evaluated"), std::string::npos);
}

}  // namespace
}  // namespace postern::authz

namespace postern::authz {
namespace {

TEST(Policy, ExplainsInJsonReadyPiecesWithoutAllocating) {
  const auto p = compile("allow: {or: [{email: 'a\"b@example.com'}]}");
  core::StringSet groups;
  session::Claims claims;
  Subject s{"00u1", "x@example.com", &groups, &claims};
  const Input in{&s, "GET", "/", std::nullopt, false, {}};
  const auto d = p.evaluate(in);
  std::array<Policy::ReasonText, 4> out;
  ASSERT_EQ(p.explain(d, out, true), 2u);
  std::string joined;
  for (auto piece : out[1]) joined += piece;
  EXPECT_EQ(joined, "policy allow.or: email is \\\"a\\\\\\\"b@example.com\\\" → false");
  ASSERT_EQ(p.explain(d, out, false), 2u);
  joined.clear();
  for (auto piece : out[1]) joined += piece;
  EXPECT_EQ(joined, "policy allow.or: email is \"a\\\"b@example.com\" → false");
}

}  // namespace
}  // namespace postern::authz
