// The directory snapshot through the policy's group interface: a group matches by id or by name; a suspended or
// deactivated user is known and in no group; once read, the directory is the authority: a user it does not know is in
// no group either (only an empty snapshot, before the first sync, has no view).
#include "directory/snapshot.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "authz/policy.h"
#include "authz/policy_parser.h"

namespace postern::directory {
namespace {

Snapshot sample() {
  return Snapshot({{"00g1", "Engineering"}, {"00g2", "Finance"}},
                  {{"00ua", "alice@example.com", "ACTIVE", {"00g1"}},
                   {"00ub", "bob@example.com", "ACTIVE", {"00g1", "00g2"}},
                   {"00ud", "dave@example.com", "SUSPENDED", {"00g1"}},
                   {"00ue", "erin@example.com", "DEPROVISIONED", {"00g2"}}});
}

TEST(Snapshot, GroupsAreIdsThenNames) {
  const auto s = sample();
  const auto* bob = s.groups_of("00ub");
  ASSERT_TRUE(bob);
  EXPECT_EQ(std::vector<std::string>(bob->values().begin(), bob->values().end()),
            (std::vector<std::string>{"00g1", "00g2", "Engineering", "Finance"}));
  ASSERT_TRUE(s.groups_of("00uz"));
  EXPECT_TRUE(s.groups_of("00uz")->empty());
  EXPECT_FALSE(s.knows_user("00uz"));
  EXPECT_EQ(Snapshot().groups_of("00ua"), nullptr);
  ASSERT_TRUE(s.groups_of("00ud"));
  EXPECT_TRUE(s.groups_of("00ud")->empty());
  EXPECT_TRUE(s.groups_of("00ue")->empty());
  EXPECT_EQ(s.user_id_for_email("alice@example.com"), "00ua");
  EXPECT_EQ(s.group_name("00g2"), "Finance");
  EXPECT_EQ(s.user_count(), 4u);
  EXPECT_EQ(s.group_count(), 2u);
  EXPECT_EQ(s.membership_count(), 3u);  // suspended and deactivated users' memberships do not count
}

TEST(Snapshot, AnOverlayChangesOnlyItsUsersAndSharesTheRest) {
  const auto s = std::make_shared<const Snapshot>(sample());
  const auto next = s->with_users({{"00ua", "alice@example.com", "ACTIVE", {"00g2", "00g9"}}}, {{"00g9", "New"}});
  auto values = [](const core::StringSet* g) { return std::vector<std::string>(g->values().begin(), g->values().end()); };
  EXPECT_EQ(values(next->groups_of("00ua")), (std::vector<std::string>{"00g2", "00g9", "Finance", "New"}));
  EXPECT_EQ(values(s->groups_of("00ua")), (std::vector<std::string>{"00g1", "Engineering"}));  // the old one stands
  EXPECT_EQ(next->groups_of("00ub"), s->groups_of("00ub"));  // the same set, not a copy
  EXPECT_EQ(next->overlay_count(), 1u);
  const auto again = next->with_users({{"00ub", "bob@example.com", "SUSPENDED", {"00g1"}}});
  EXPECT_TRUE(again->groups_of("00ub")->empty());
  EXPECT_EQ(values(again->groups_of("00ua")), values(next->groups_of("00ua")));
  EXPECT_EQ(again->overlay_count(), 2u);
}

TEST(Snapshot, PolicyMatchesAnOktaGroupByIdOrName) {
  const auto s = sample();
  auto allowed = [&](const char* yaml, std::string_view user) {
    std::vector<authz::RuleSpec> rules;
    std::vector<authz::ParseProblem> problems;
    authz::parse_policy(YAML::Load(yaml), "policy", rules, problems);
    EXPECT_TRUE(problems.empty());
    const authz::Policy p(std::move(rules));
    const authz::Subject subject{user, "", s.groups_of(user), nullptr};
    authz::Input in;
    in.subject = &subject;
    in.method = "GET";
    in.path = "/";
    return p.evaluate(in).outcome == authz::Outcome::allow;
  };
  EXPECT_TRUE(allowed("allow: {or: [{groups: {has: Engineering}}]}", "00ua"));
  EXPECT_TRUE(allowed("allow: {or: [{groups: {has: 00g1}}]}", "00ua"));
  EXPECT_FALSE(allowed("allow: {or: [{groups: {has: Finance}}]}", "00ua"));
  EXPECT_FALSE(allowed("allow: {or: [{groups: {has: Engineering}}]}", "00ud"));  // suspended
  EXPECT_TRUE(allowed("allow: {or: [{groups: {exclude: Finance}}]}", "00ue"));   // deactivated: in no group
}

}  // namespace
}  // namespace postern::directory
