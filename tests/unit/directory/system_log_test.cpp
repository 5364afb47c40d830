#include "directory/system_log.h"

#include <gtest/gtest.h>

#include "directory/snapshot.h"

namespace postern::directory {
namespace {

TEST(SystemLog, EventsThatCutAccessRevokeAndOthersReread) {
  const auto actions = system_log_actions(R"([
    {"eventType":"user.lifecycle.suspend","target":[{"type":"User","id":"00u1"}]},
    {"eventType":"group.user_membership.add","target":[{"type":"User","id":"00u2"},{"type":"UserGroup","id":"00g1"}]},
    {"eventType":"user.session.start","target":[{"type":"User","id":"00u3"}]},
    {"eventType":"user.lifecycle.deactivate","target":[{"type":"AppUser","id":"0ua"}]},
    {"eventType":"user.session.clear","target":[{"type":"User","id":"00u4"}]},
    {"eventType":"user.account.lock"},
    "garbage", 7
  ])");
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0].kind, LogAction::Kind::revoke);
  EXPECT_EQ(actions[0].user_id, "00u1");
  EXPECT_EQ(actions[0].status, "SUSPENDED");
  EXPECT_EQ(actions[1].kind, LogAction::Kind::reread);
  EXPECT_EQ(actions[1].user_id, "00u2");
  EXPECT_EQ(actions[2].kind, LogAction::Kind::revoke);
  EXPECT_EQ(actions[2].status, "ACTIVE");  // sessions end; the user keeps their groups
  EXPECT_TRUE(system_log_actions("{}").empty());
  EXPECT_TRUE(system_log_actions("not json").empty());
}

TEST(SystemLog, OktaTimeFormat) {
  EXPECT_EQ(okta_time(std::chrono::system_clock::from_time_t(1'800'000'000)), "2027-01-15T08:00:00.000Z");
}

TEST(Snapshot, AnOverlaidUserReplacesTheSyncedOneAndSharesTheRest) {
  const Snapshot base({{"00g1", "Engineering"}, {"00g2", "Finance"}},
                      {{"00ua", "alice@example.com", "ACTIVE", {"00g1"}}, {"00ub", "bob@example.com", "ACTIVE", {"00g2"}}});
  const auto next = base.with_user({"00ua", "alice@example.com", "ACTIVE", {"00g1", "00g9"}}, {{"00g9", "New"}});
  EXPECT_TRUE(next->groups_of("00ua")->contains("Finance") == false);
  EXPECT_TRUE(next->groups_of("00ua")->contains("New"));
  EXPECT_TRUE(next->groups_of("00ua")->contains("00g9"));
  EXPECT_TRUE(next->groups_of("00ub")->contains("Finance"));  // untouched
  EXPECT_FALSE(base.groups_of("00ua")->contains("New"));      // the original is immutable
  const auto gone = next->with_user({"00ub", "", "SUSPENDED", {}});
  EXPECT_TRUE(gone->groups_of("00ub")->empty());
  EXPECT_TRUE(gone->groups_of("00ua")->contains("New"));  // earlier overlays carry over
  const auto fresh = Snapshot().with_user({"00uz", "", "ACTIVE", {"00g1"}});
  EXPECT_TRUE(fresh->groups_of("00uz")->contains("00g1"));
}

}  // namespace
}  // namespace postern::directory
