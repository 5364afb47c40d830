#pragma once
// The background half of refresh (Pomerium's identity manager): a thread of its own that, while this process holds
// the store's "refresh" lease, asks the store every `poll_interval` which sessions are due and refreshes them
// (SessionRefresher: claimed, so never twice), at most `max_in_flight` at a time. With the memory store the lease is
// always held; with PostgreSQL one replica holds it and another takes over within `lease_ttl` of its death.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "refresh/session_refresher.h"

namespace postern::refresh {

class RefreshService {
 public:
  static constexpr std::chrono::seconds poll_interval{1};
  static constexpr std::chrono::seconds lease_ttl{10};
  static constexpr std::size_t max_in_flight = 64;
  static constexpr std::size_t batch = 256;

  explicit RefreshService(SessionRefresher& refresher);
  ~RefreshService();  // stops the thread
  RefreshService(const RefreshService&) = delete;
  RefreshService& operator=(const RefreshService&) = delete;

  void start();
  void stop();
  // Whether this process held the lease at the last poll.
  [[nodiscard]] bool holds_lease() const noexcept;

  struct Runtime;  // the thread's loop, pool and timers (refresh_service.cpp)

 private:
  SessionRefresher& refresher_;
  std::string holder_;  // this process, in the lease table
  std::unique_ptr<Runtime> runtime_;
  std::thread thread_;
};

}  // namespace postern::refresh
