#include <gtest/gtest.h>

#include "store/session_store.h"

namespace postern::store {
namespace {

using namespace std::chrono_literals;
using session::Clock;

std::shared_ptr<session::Session> make(std::string id, Clock::time_point due, std::string user = "00u1") {
  auto s = std::make_shared<session::Session>();
  s->id = std::move(id);
  s->user_id = std::move(user);
  s->refresh_token = "r";
  s->expires_at = Clock::now() + 1h;
  s->refresh_due_at = due;
  return s;
}

TEST(MemoryStore, DueSessionsComeEarliestFirst) {
  auto store = make_memory_store();
  const auto now = Clock::now();
  ASSERT_TRUE(store->put(make("b", now - 1s)));
  ASSERT_TRUE(store->put(make("a", now - 2s)));
  ASSERT_TRUE(store->put(make("later", now + 1min)));
  auto due = store->due_for_refresh(now, 10);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0]->id, "a");
  EXPECT_EQ(due[1]->id, "b");
  EXPECT_EQ(store->due_for_refresh(now, 1).size(), 1u);
}

TEST(MemoryStore, ReplacingMovesTheScheduleAndEraseDropsIt) {
  auto store = make_memory_store();
  const auto now = Clock::now();
  auto s = make("a", now - 1s);
  ASSERT_TRUE(store->put(s));
  auto moved = std::make_shared<session::Session>(*s);
  moved->refresh_due_at = now + 1h;
  moved->version = 2;
  EXPECT_FALSE(store->replace(moved, 5));  // not the version stored
  EXPECT_TRUE(store->replace(moved, 1));
  EXPECT_TRUE(store->due_for_refresh(now, 10).empty());
  EXPECT_EQ(store->get("a")->version, 2u);
  ASSERT_TRUE(store->put(make("b", now - 1s, "00u2")));
  EXPECT_EQ(store->erase_user("00u2"), 1u);
  EXPECT_TRUE(store->due_for_refresh(now, 10).empty());
  store->erase("a");
  EXPECT_FALSE(store->replace(moved, 2));  // gone: a refresh finishing after sign-out writes nothing
  EXPECT_EQ(store->get("a"), nullptr);
}

TEST(MemoryStore, ExpiredSessionsAreNotDueAndArePurged) {
  auto store = make_memory_store();
  const auto now = Clock::now();
  auto s = make("old", now - 2s);
  s->expires_at = now - 1s;
  ASSERT_TRUE(store->put(s));
  EXPECT_TRUE(store->due_for_refresh(now, 10).empty());
  EXPECT_EQ(store->get("old"), nullptr);
}

TEST(MemoryStore, ClaimsAreOneTimeWithinTheirTtl) {
  auto store = make_memory_store();
  EXPECT_TRUE(store->claim_once("refresh:a:1", 60s));
  EXPECT_FALSE(store->claim_once("refresh:a:1", 60s));
  EXPECT_TRUE(store->claim_once("refresh:a:2", 60s));
}

}  // namespace
}  // namespace postern::store
