// The directory's state between runs: the delta watermarks come from what Okta returned (never the local clock) and
// move only when a listing completes, a group whose timestamps did not move is not re-listed, and replacing a
// group's members reports exactly the users whose groups changed (the snapshot diff a delta run publishes).
#include "directory/directory_state.h"

#include <gtest/gtest.h>

namespace postern::directory {
namespace {

OktaTime at(const char* text) { return *parse_okta_time(text); }

GroupListing group(const char* id, const char* name, const char* updated, const char* members_updated) {
  return {id, name, at(updated), at(members_updated)};
}

std::vector<std::string> ids(const DirectoryState& s, std::vector<DirectoryState::Index> which) {
  std::vector<std::string> out;
  for (const auto& u : s.users(which)) out.push_back(u.id);
  return out;
}

TEST(OktaTime, ParsesAndFormatsOktasTimestamps) {
  const auto t = parse_okta_time("2026-12-05T09:20:01.234Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_okta_time(*t), "2026-12-05T09:20:01.234Z");
  EXPECT_EQ(format_okta_time(*parse_okta_time("2026-12-05T09:20:01Z")), "2026-12-05T09:20:01.000Z");
  EXPECT_EQ(format_okta_time(*parse_okta_time("2026-12-05T09:20:01.5Z")), "2026-12-05T09:20:01.500Z");
  for (const char* bad : {"", "2026-12-05", "2026-12-05T09:20:01.234", "2026-13-05T09:20:01Z", "2026-02-30T00:00:00Z",
                          "2026-12-05T25:00:00Z", "2026-12-05T09:20:01.Z", "2026-12-05T09:20:01.234+01:00",
                          "2026-12-05T09:20:01.234Zjunk", "x026-12-05T09:20:01Z"})
    EXPECT_FALSE(parse_okta_time(bad)) << bad;
}

TEST(DirectoryState, WatermarksMoveOnlyWhenAListingCompletesAndNeverBack) {
  DirectoryState s;
  EXPECT_FALSE(s.group_delta_filter());  // nothing listed yet: a full run first
  EXPECT_FALSE(s.user_delta_filter());
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", at("2026-01-01T00:00:00.000Z")});
  s.set_members(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z"), {a});
  // Recording what a listing returned moves nothing: a run that fails here must not skip what it did not reach.
  EXPECT_FALSE(s.group_delta_filter());
  EXPECT_FALSE(s.update_user({"00ua", "a@x", "ACTIVE", at("2026-05-01T00:00:00.000Z")}));
  EXPECT_FALSE(s.user_delta_filter());
  // The listing completed; Okta's Date on its first page says how far it read. The query starts a margin before.
  s.groups_listed_through(at("2026-03-04T10:00:00.000Z"));
  s.users_listed_through(at("2026-03-04T10:00:30.000Z"));
  EXPECT_EQ(*s.group_delta_filter(),
            "lastUpdated gt \"2026-03-04T09:59:00.000Z\" or lastMembershipUpdated gt \"2026-03-04T09:59:00.000Z\"");
  EXPECT_EQ(*s.user_delta_filter(), "lastUpdated gt \"2026-03-04T09:59:30.000Z\"");
  // An older time (a slow replica's Date) never moves it back.
  s.groups_listed_through(at("2020-01-01T00:00:00.000Z"));
  EXPECT_EQ(format_okta_time(*s.group_watermark()), "2026-03-04T10:00:00.000Z");
}

TEST(DirectoryState, OnlyGroupsWhoseTimestampsMovedAreRelisted) {
  DirectoryState s;
  const auto g = group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z");
  EXPECT_TRUE(s.group_changed(g));  // new
  s.set_members(g, {});
  EXPECT_FALSE(s.group_changed(g));  // returned again by the margin: same timestamps
  EXPECT_TRUE(s.group_changed(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.001Z")));
  EXPECT_TRUE(s.group_changed(group("00g1", "Eng", "2026-03-01T10:00:00.001Z", "2026-03-02T10:00:00.000Z")));
  EXPECT_TRUE(s.group_changed(GroupListing{"00g1", "Eng", std::nullopt, std::nullopt}));  // unreadable: list it
}

TEST(DirectoryState, ReplacingMembersReportsExactlyTheUsersWhoseGroupsChanged) {
  DirectoryState s;
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", {}});
  const auto b = s.note_user({"00ub", "b@x", "ACTIVE", {}});
  const auto c = s.note_user({"00uc", "c@x", "ACTIVE", {}});
  const auto eng = group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z");
  EXPECT_EQ(ids(s, s.set_members(eng, {b, a})), (std::vector<std::string>{"00ua", "00ub"}));
  EXPECT_EQ(ids(s, s.set_members(eng, {a, b, a})), (std::vector<std::string>{}));  // unchanged, duplicates ignored
  EXPECT_EQ(ids(s, s.set_members(eng, {a, c})), (std::vector<std::string>{"00ub", "00uc"}));  // b left, c joined
  const auto fin = group("00g2", "Fin", "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z");
  s.set_members(fin, {a});
  EXPECT_EQ(s.users(std::vector<DirectoryState::Index>{a})[0].group_ids, (std::vector<std::string>{"00g1", "00g2"}));
  EXPECT_TRUE(s.users(std::vector<DirectoryState::Index>{b})[0].group_ids.empty());
  // A rename changes every member's names.
  auto renamed = eng;
  renamed.name = "Engineering";
  EXPECT_EQ(ids(s, s.set_members(renamed, {a, c})), (std::vector<std::string>{"00ua", "00uc"}));
  EXPECT_EQ(s.group_names(std::vector<DirectoryState::Index>{c})[0].name, "Engineering");
}

TEST(DirectoryState, AUserReReadMovesBetweenGroupsBothWays) {
  DirectoryState s;
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", {}});
  s.set_members(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z"), {a});
  s.set_user_groups({"00ua", "a@x", "ACTIVE", {}}, {{"00g2", "Fin"}, {"00g9", "Brand new"}});
  EXPECT_EQ(s.users(std::vector<DirectoryState::Index>{a})[0].group_ids, (std::vector<std::string>{"00g2", "00g9"}));
  // The group it left no longer lists it: a later delta of 00g1 that still omits it reports no change.
  EXPECT_TRUE(s.set_members(group("00g1", "Eng", "2026-03-02T10:00:00.000Z", "2026-03-02T10:00:00.000Z"), {}).empty());
  // A group first seen in a re-read has no timestamps: the next delta lists it.
  EXPECT_TRUE(s.group_changed(group("00g9", "Brand new", "2026-03-02T10:00:00.000Z", "2026-03-02T10:00:00.000Z")));
}

TEST(DirectoryState, AStatusChangeIsReportedOnlyForKnownUsers) {
  DirectoryState s;
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", at("2026-01-01T00:00:00.000Z")});
  EXPECT_FALSE(s.update_user({"00ua", "a@x", "ACTIVE", at("2026-01-02T00:00:00.000Z")}));  // nothing moved
  EXPECT_EQ(s.update_user({"00ua", "", "SUSPENDED", at("2026-01-03T00:00:00.000Z")}), a);
  EXPECT_FALSE(s.update_user({"00uz", "z@x", "DEPROVISIONED", at("2026-01-04T00:00:00.000Z")}));  // in no group
  const auto snap = s.snapshot();
  EXPECT_TRUE(snap->knows_user("00ua"));
  EXPECT_TRUE(snap->groups_of("00ua")->empty());
}

TEST(DirectoryState, TheWholeSnapshotMatchesTheState) {
  DirectoryState s;
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", {}});
  const auto b = s.note_user({"00ub", "b@x", "ACTIVE", {}});
  s.set_members(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z"), {a, b});
  s.set_members(group("00g2", "Fin", "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.000Z"), {b});
  const auto snap = s.snapshot();
  auto values = [](const core::StringSet* g) { return std::vector<std::string>(g->values().begin(), g->values().end()); };
  EXPECT_EQ(values(snap->groups_of("00ub")), (std::vector<std::string>{"00g1", "00g2", "Eng", "Fin"}));
  EXPECT_EQ(snap->membership_count(), 3u);
  EXPECT_EQ(snap->user_id_for_email("b@x"), "00ub");
  EXPECT_TRUE(snap->groups_of("00ub")->contains("Fin"));
  EXPECT_FALSE(snap->groups_of("00ua")->contains("Fin"));
}

}  // namespace
}  // namespace postern::directory

namespace postern::directory {
namespace {

TEST(DirectoryStateCodec, RoundTripsGroupsMembersUsersAndWatermarks) {
  DirectoryState s;
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", {}});
  const auto b = s.note_user({"00ub", "b@x", "SUSPENDED", {}});
  s.note_user({"00uc", "c@x", "ACTIVE", {}});
  s.set_members(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z"), {a, b});
  s.set_members(GroupListing{"00g2", "Fin", std::nullopt, std::nullopt}, {b});
  s.groups_listed_through(at("2026-03-04T10:00:00.000Z"));
  auto back = DirectoryState::decode(s.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->user_count(), 3u);
  EXPECT_EQ(back->group_count(), 2u);
  EXPECT_EQ(back->group_delta_filter(), s.group_delta_filter());
  EXPECT_FALSE(back->user_delta_filter());
  EXPECT_EQ(back->users(std::vector<DirectoryState::Index>{b})[0].group_ids,
            (std::vector<std::string>{"00g1", "00g2"}));
  EXPECT_EQ(back->users(std::vector<DirectoryState::Index>{b})[0].status, "SUSPENDED");
  EXPECT_FALSE(back->group_changed(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z")));
  EXPECT_TRUE(back->group_changed(GroupListing{"00g2", "Fin", std::nullopt, std::nullopt}));
  EXPECT_EQ(back->encode(), s.encode());
}

TEST(DirectoryStateCodec, RefusesTruncatedOrForeignBytes) {
  DirectoryState s;
  const auto a = s.note_user({"00ua", "a@x", "ACTIVE", {}});
  s.set_members(group("00g1", "Eng", "2026-03-01T10:00:00.000Z", "2026-03-02T10:00:00.000Z"), {a});
  const auto bytes = s.encode();
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(DirectoryState::decode(bytes.substr(0, n))) << n;
  EXPECT_FALSE(DirectoryState::decode(bytes + "x"));
  EXPECT_FALSE(DirectoryState::decode("{}"));
  EXPECT_TRUE(DirectoryState::decode(DirectoryState().encode()));
}

}  // namespace
}  // namespace postern::directory
