#include "refresh/session_refresher.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "net/watchdog.h"
#include "refresh/schedule.h"

namespace postern::refresh {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// An io_context with a pool, and a fake IdP whose answers the test chooses; the token call takes 50 ms so that
// concurrent callers overlap.
struct Fixture {
  asio::io_context io;
  net::Watchdog dog{io};
  net::UpstreamPool pool{io, dog};
  std::unique_ptr<store::SessionStore> store = store::make_memory_store();
  int calls = 0;
  authn::RefreshOutcome answer = authn::RefreshOutcome::refreshed;
  Clock::time_point now = Clock::now();

  RefreshCall call() {
    return [this](net::UpstreamPool&, authn::RefreshRequest r) -> net::Task<authn::RefreshResult> {
      ++calls;
      net::Timer t(co_await asio::this_coro::executor, 50ms);
      co_await t.async_wait(net::nothrow);
      authn::RefreshResult out;
      out.outcome = answer;
      out.tokens.access_token = "access-" + std::to_string(calls);
      out.tokens.refresh_token = r.refresh_token;
      out.tokens.id_token = r.id_token;
      out.tokens.email = "alice@example.com";
      out.tokens.claims_json = "{}";
      out.tokens.access_expires_at =
          std::chrono::duration_cast<std::chrono::seconds>((now + 1h).time_since_epoch()).count();
      co_return out;
    };
  }

  std::shared_ptr<const session::Session> expired_session() {
    auto s = std::make_shared<session::Session>();
    s->id = "sid-1";
    s->user_id = "00u1";
    s->refresh_token = "refresh";
    s->access_token = "access-0";
    s->issued_at = now - 2h;
    s->expires_at = now + 12h;
    s->tokens_expire_at = now - 1s;
    s->refresh_due_at = now - 5min;
    EXPECT_TRUE(store->put(s));
    return s;
  }
};

TEST(SessionRefresher, FiftyConcurrentRequestsMakeOneRefresh) {
  Fixture f;
  SessionRefresher r(*f.store, f.call(), nullptr, [&] { return f.now; });
  auto s = f.expired_session();
  int fresh = 0;
  for (int i = 0; i < 50; ++i) {
    asio::co_spawn(f.io, [&]() -> net::Task<void> {
      auto got = co_await r.fresh(f.pool, s);
      if (got && !got->tokens_expired(f.now)) ++fresh;
    }, asio::detached);
  }
  f.io.run();
  EXPECT_EQ(f.calls, 1);
  EXPECT_EQ(fresh, 50);
  auto stored = f.store->get("sid-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->version, 2u);
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>((f.now + 1h).time_since_epoch()).count();
  EXPECT_EQ(stored->tokens_expire_at, tokens_expire_at(expiry, 0));
  EXPECT_EQ(stored->refresh_due_at, first_due(f.now, tokens_expire_at(expiry, 0)));
  EXPECT_EQ(r.stats().refreshed, 1u);
}

TEST(SessionRefresher, InvalidGrantEndsTheSession) {
  Fixture f;
  f.answer = authn::RefreshOutcome::rejected;
  SessionRefresher r(*f.store, f.call(), nullptr, [&] { return f.now; });
  auto s = f.expired_session();
  std::shared_ptr<const session::Session> got = s;
  asio::co_spawn(f.io, [&]() -> net::Task<void> { got = co_await r.fresh(f.pool, s); }, asio::detached);
  f.io.run();
  EXPECT_EQ(got, nullptr);
  EXPECT_EQ(f.store->get("sid-1"), nullptr);
  EXPECT_EQ(r.stats().ended, 1u);
}

TEST(SessionRefresher, ATemporaryFailureKeepsTheSessionAndBacksOff) {
  Fixture f;
  f.answer = authn::RefreshOutcome::failed;
  SessionRefresher r(*f.store, f.call(), nullptr, [&] { return f.now; });
  auto s = f.expired_session();
  std::shared_ptr<const session::Session> got = s;
  asio::co_spawn(f.io, [&]() -> net::Task<void> { got = co_await r.fresh(f.pool, s); }, asio::detached);
  f.io.run();
  EXPECT_EQ(got, nullptr);  // this request signs in again...
  auto kept = f.store->get("sid-1");
  ASSERT_TRUE(kept);  // ...but the session stays for the next try
  EXPECT_EQ(kept->refresh_failures, 1u);
  EXPECT_GE(kept->refresh_due_at, f.now + 800ms);
  EXPECT_LE(kept->refresh_due_at, f.now + 1200ms);
  // Within the backoff a request does not call the IdP again.
  f.io.restart();
  asio::co_spawn(f.io, [&]() -> net::Task<void> { got = co_await r.fresh(f.pool, kept); }, asio::detached);
  f.io.run();
  EXPECT_EQ(f.calls, 1);
  // Once it is due again, the next try goes out; the second failure waits twice as long.
  f.now += 2s;
  f.io.restart();
  asio::co_spawn(f.io, [&]() -> net::Task<void> { got = co_await r.fresh(f.pool, kept); }, asio::detached);
  f.io.run();
  EXPECT_EQ(f.calls, 2);
  kept = f.store->get("sid-1");
  EXPECT_EQ(kept->refresh_failures, 2u);
  EXPECT_GE(kept->refresh_due_at, f.now + 1600ms);
}

TEST(SessionRefresher, ASignOutDuringTheCallWins) {
  Fixture f;
  SessionRefresher r(*f.store, f.call(), nullptr, [&] { return f.now; });
  auto s = f.expired_session();
  Outcome outcome = Outcome::refreshed;
  asio::co_spawn(f.io, [&]() -> net::Task<void> { outcome = co_await r.refresh(f.pool, s); }, asio::detached);
  f.io.poll();            // the call is in flight
  f.store->erase(s->id);  // the user signs out meanwhile
  f.io.run();
  EXPECT_EQ(outcome, Outcome::busy);
  EXPECT_EQ(f.store->get("sid-1"), nullptr);  // not brought back by the refresh
}

TEST(SessionRefresher, FreshTokensNeedNoCall) {
  Fixture f;
  SessionRefresher r(*f.store, f.call(), nullptr, [&] { return f.now; });
  auto s = std::make_shared<session::Session>(*f.expired_session());
  s->tokens_expire_at = f.now + 10min;
  std::shared_ptr<const session::Session> got;
  asio::co_spawn(f.io, [&]() -> net::Task<void> { got = co_await r.fresh(f.pool, s); }, asio::detached);
  f.io.run();
  EXPECT_EQ(got, s);
  EXPECT_EQ(f.calls, 0);
}

TEST(SessionRefresher, RefreshKeepsTheAbsoluteExpiry) {
  session::Session s;
  s.version = 7;
  s.expires_at = Clock::now() + 1h;
  s.refresh_failures = 3;
  authn::SignInResult tokens;
  tokens.access_expires_at = 1'800'000'600;
  tokens.id_expires_at = 1'800'000'300;
  tokens.claims_json = R"({"groups":["Engineering"]})";
  const auto now = Clock::time_point(std::chrono::seconds(1'800'000'000));
  auto n = refreshed_session(s, tokens, now);
  EXPECT_EQ(n->expires_at, s.expires_at);
  EXPECT_EQ(n->version, 8u);
  EXPECT_EQ(n->refresh_failures, 0u);
  EXPECT_EQ(n->tokens_expire_at, Clock::time_point(std::chrono::seconds(1'800'000'300)));
  EXPECT_EQ(n->refresh_due_at, now + 225s);  // 300 s tokens: a quarter early
}

}  // namespace
}  // namespace postern::refresh
