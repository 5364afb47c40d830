#pragma once
// Per-worker timeout enforcement. Each connection (downstream or upstream) is a Watched entry with one deadline and
// the name of the timeout it stands for; a single timer per worker ticks every `timeouts::watchdog_tick` and expires
// the overdue ones by closing their socket, which fails the pending operation. Setting a deadline is two stores, so
// the hot path pays no timer-queue operation per read or write. Single-threaded: used only on its worker.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>

namespace postern::net {

class Watchdog;

// A monotonic clock read from the kernel's coarse source (a few ms resolution, a fraction of the cost of a precise
// read). Deadlines are checked every watchdog tick (250 ms), so coarse time is all they need.
struct CoarseClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<CoarseClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

class Watched {
 public:
  using clock = CoarseClock;
  explicit Watched(Watchdog& dog);
  virtual ~Watched();
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;

  // Arms (or re-arms) the deadline. `name` must be a string literal: it is reported by expired_by().
  void expire_after(clock::duration d, const char* name) noexcept {
    deadline_ = clock::now() + d;
    name_ = name;
  }
  void expire_at(clock::time_point at, const char* name) noexcept {
    deadline_ = at;
    name_ = name;
  }
  void expire_never() noexcept { deadline_ = clock::time_point::max(); }
  // Non-null once a deadline has fired: the name of the timeout.
  [[nodiscard]] const char* expired_by() const noexcept { return fired_; }
  // Marks this connection as waiting between requests (closed first on shutdown).
  void set_idle(bool idle) noexcept { idle_ = idle; }

 protected:
  // Close the underlying socket so the pending operation completes with an error.
  virtual void on_expire() noexcept = 0;

 private:
  friend class Watchdog;
  Watchdog& dog_;
  Watched* prev_ = nullptr;
  Watched* next_ = nullptr;
  clock::time_point deadline_ = clock::time_point::max();
  const char* name_ = nullptr;
  const char* fired_ = nullptr;
  bool idle_ = false;
};

class Watchdog {
 public:
  explicit Watchdog(boost::asio::io_context& io);
  void start();
  void stop();
  // Expires every connection waiting between requests (graceful shutdown).
  void expire_idle(const char* name);
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  friend class Watched;
  void link(Watched* w) noexcept;
  void unlink(Watched* w) noexcept;
  void tick();

  boost::asio::steady_timer timer_;
  Watched* head_ = nullptr;
  std::size_t size_ = 0;
  bool running_ = false;
};

}  // namespace postern::net
