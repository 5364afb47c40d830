#pragma once
// Refreshing one session, from whichever thread notices it is due: the background service (refresh_service.h)
// shortly before its tokens expire, or a request whose tokens have already expired. Single flight everywhere: the
// one that refreshes first claims "refresh:<session>:<version>" in the store (shared by replicas with PostgreSQL),
// so many requests, workers and replicas noticing at the same moment make one token call; the others wait for the
// result to reach the store. The result is written only over the version it read (store::replace): a sign-out
// during the call wins.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "authn/oidc_client.h"
#include "net/asio_types.h"
#include "net/upstream_pool.h"
#include "session/session.h"
#include "store/session_store.h"

namespace postern::directory {
class Directory;
}

namespace postern::refresh {

// The token call (OidcClient::refresh in production; a fake in tests), run on the caller's loop with its pool.
using RefreshCall = std::function<net::Task<authn::RefreshResult>(net::UpstreamPool&, authn::RefreshRequest)>;

enum class Outcome {
  refreshed,  // the store holds the new tokens
  ended,      // the IdP refused the grant: the session is gone
  failed,     // temporary failure: the session stays, retried after a backoff
  busy,       // someone else holds the claim (or the session changed meanwhile)
};

class SessionRefresher {
 public:
  // A claim outlives any one refresh call (10 s fetch deadline, a few calls): a claimer that died frees it then.
  static constexpr std::chrono::seconds claim_ttl{60};
  // How long a request whose tokens have expired waits for someone else's refresh, and how often it looks.
  static constexpr std::chrono::seconds max_wait{15};
  static constexpr std::chrono::milliseconds wait_poll{25};
  // A request whose tokens expired while a retry is due within this long waits for the retry instead of signing in.
  static constexpr std::chrono::seconds max_backoff_wait{2};

  SessionRefresher(store::SessionStore& store, RefreshCall call, directory::Directory* directory = nullptr,
                   std::function<session::Clock::time_point()> clock = session::Clock::now);

  // Refreshes `s` unless someone else is; see Outcome.
  [[nodiscard]] net::Task<Outcome> refresh(net::UpstreamPool& pool, std::shared_ptr<const session::Session> s);
  // For a request holding `s` whose tokens have expired: the session with fresh tokens (refreshing it, or waiting
  // for whoever is), or null when it ended, failed or waited too long (the request then goes to sign-in).
  [[nodiscard]] net::Task<std::shared_ptr<const session::Session>> fresh(net::UpstreamPool& pool,
                                                                        std::shared_ptr<const session::Session> s);

  struct Stats {
    std::uint64_t refreshed = 0, ended = 0, failed = 0;
  };
  [[nodiscard]] Stats stats() const noexcept {
    return {refreshed_.load(std::memory_order_relaxed), ended_.load(std::memory_order_relaxed),
            failed_.load(std::memory_order_relaxed)};
  }
  [[nodiscard]] store::SessionStore& store() noexcept { return store_; }

 private:
  store::SessionStore& store_;
  RefreshCall call_;
  directory::Directory* directory_;
  std::function<session::Clock::time_point()> clock_;
  std::atomic<std::uint64_t> refreshed_{0}, ended_{0}, failed_{0};
};

// The session a successful refresh leaves (pure: tested without an IdP).
[[nodiscard]] std::shared_ptr<session::Session> refreshed_session(const session::Session& s,
                                                                  authn::SignInResult tokens,
                                                                  session::Clock::time_point now);
// The session a temporary failure leaves: one more failure, the next try after a backoff.
[[nodiscard]] std::shared_ptr<session::Session> failed_session(const session::Session& s,
                                                               session::Clock::time_point now, double jitter);

}  // namespace postern::refresh
