#include "refresh/session_refresher.h"

#include <boost/asio/this_coro.hpp>
#include <random>

#include "directory/directory.h"
#include "refresh/schedule.h"
#include "telemetry/log.h"

namespace postern::refresh {
namespace {

double jitter() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

std::shared_ptr<session::Session> refreshed_session(const session::Session& s, authn::SignInResult tokens,
                                                    session::Clock::time_point now) {
  auto n = std::make_shared<session::Session>(s);
  n->email = std::move(tokens.email);
  n->name = std::move(tokens.name);
  n->id_token = std::move(tokens.id_token);
  n->set_claims(tokens.claims_json);  // after id_token: the claims it does not carry are kept apart
  n->refresh_token = std::move(tokens.refresh_token);
  n->access_token.clear();  // see Session::access_token
  n->tokens_expire_at = tokens_expire_at(tokens.access_expires_at, tokens.id_expires_at);
  n->refresh_due_at = first_due(now, n->tokens_expire_at);
  n->refresh_failures = 0;
  n->version = s.version + 1;
  return n;
}

std::shared_ptr<session::Session> failed_session(const session::Session& s, session::Clock::time_point now,
                                                 double jitter_value) {
  auto n = std::make_shared<session::Session>(s);
  n->refresh_failures = s.refresh_failures + 1;
  n->refresh_due_at = now + backoff(n->refresh_failures, jitter_value);
  n->version = s.version + 1;
  return n;
}

SessionRefresher::SessionRefresher(store::SessionStore& store, RefreshCall call, directory::Directory* directory,
                                   std::function<session::Clock::time_point()> clock)
    : store_(store), call_(std::move(call)), directory_(directory), clock_(std::move(clock)) {}

net::Task<Outcome> SessionRefresher::refresh(net::UpstreamPool& pool, std::shared_ptr<const session::Session> s) {
  if (!s || !s->refreshable()) co_return Outcome::busy;
  if (!store_.claim_once("refresh:" + s->id + ":" + std::to_string(s->version), claim_ttl)) co_return Outcome::busy;
  authn::RefreshRequest request{s->refresh_token, s->id_token.text(), s->nonce, s->claims_json()};
  auto result = co_await call_(pool, std::move(request));
  const auto now = clock_();
  switch (result.outcome) {
    case authn::RefreshOutcome::refreshed: {
      if (!store_.replace(refreshed_session(*s, std::move(result.tokens), now), s->version)) co_return Outcome::busy;
      refreshed_.fetch_add(1, std::memory_order_relaxed);
      if (directory_) directory_->refresh_user(s->user_id);
      telemetry::log(telemetry::Level::debug, "session refreshed", {{"user", s->user_id}});
      co_return Outcome::refreshed;
    }
    case authn::RefreshOutcome::rejected:
      store_.erase(s->id);
      ended_.fetch_add(1, std::memory_order_relaxed);
      telemetry::log(telemetry::Level::info, "session ended: the identity provider refused to refresh it",
                     {{"user", s->user_id}, {"error", result.error}});
      co_return Outcome::ended;
    case authn::RefreshOutcome::failed:
      break;
  }
  failed_.fetch_add(1, std::memory_order_relaxed);
  auto retry = failed_session(*s, now, jitter());
  telemetry::log(telemetry::Level::warn, "session refresh failed; will retry",
                 {{"user", s->user_id},
                  {"error", result.error},
                  {"failures", std::to_string(retry->refresh_failures)},
                  {"retry_in_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     retry->refresh_due_at - now)
                                                     .count())}});
  if (!store_.replace(std::move(retry), s->version)) co_return Outcome::busy;
  co_return Outcome::failed;
}

net::Task<std::shared_ptr<const session::Session>> SessionRefresher::fresh(net::UpstreamPool& pool,
                                                                          std::shared_ptr<const session::Session> s) {
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  net::Timer timer(co_await boost::asio::this_coro::executor);
  bool waited_for_backoff = false;
  while (s) {
    const auto now = clock_();
    if (!s->tokens_expired(now)) co_return s;
    if (s->refresh_due_at > now) {
      // Backing off after a failure. A retry due within a moment is waited for (once), so the tokens expiring
      // between a failed try and its retry do not send the user to sign in; a longer backoff does.
      const auto until_due = s->refresh_due_at - now;
      if (waited_for_backoff || until_due > max_backoff_wait) co_return nullptr;
      waited_for_backoff = true;
      timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(until_due));
      co_await timer.async_wait(net::nothrow);
      s = store_.get(s->id);
      continue;
    }
    const auto outcome = co_await refresh(pool, s);
    if (outcome == Outcome::ended || outcome == Outcome::failed) co_return nullptr;
    if (outcome == Outcome::busy) {
      // Someone else is refreshing it: wait for their result to reach the store.
      if (std::chrono::steady_clock::now() >= deadline) co_return nullptr;
      timer.expires_after(wait_poll);
      co_await timer.async_wait(net::nothrow);
    }
    s = store_.get(s->id);
  }
  co_return nullptr;
}

}  // namespace postern::refresh
