#include "net/watchdog.h"

#include <ctime>

#include "net/timeouts.h"

namespace postern::net {

CoarseClock::time_point CoarseClock::now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return time_point(duration(static_cast<rep>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec));
}

Watched::Watched(Watchdog& dog) : dog_(dog) { dog_.link(this); }
Watched::~Watched() { dog_.unlink(this); }

Watchdog::Watchdog(boost::asio::io_context& io) : timer_(io) {}

void Watchdog::link(Watched* w) noexcept {
  w->next_ = head_;
  if (head_) head_->prev_ = w;
  head_ = w;
  ++size_;
}

void Watchdog::unlink(Watched* w) noexcept {
  if (w->prev_) w->prev_->next_ = w->next_;
  else head_ = w->next_;
  if (w->next_) w->next_->prev_ = w->prev_;
  w->prev_ = w->next_ = nullptr;
  --size_;
}

void Watchdog::start() {
  running_ = true;
  tick();
}

void Watchdog::stop() {
  running_ = false;
  timer_.cancel();
}

void Watchdog::expire_idle(const char* name) {
  for (Watched* w = head_; w != nullptr;) {
    Watched* next = w->next_;  // on_expire never destroys the entry synchronously
    if (w->idle_ && !w->fired_) {
      w->fired_ = name;
      w->on_expire();
    }
    w = next;
  }
}

void Watchdog::tick() {
  const auto now = Watched::clock::now();
  for (Watched* w = head_; w != nullptr;) {
    Watched* next = w->next_;
    if (w->deadline_ <= now && !w->fired_) {
      w->fired_ = w->name_ ? w->name_ : "timeout";
      w->on_expire();
    }
    w = next;
  }
  if (!running_) return;
  timer_.expires_after(timeouts::watchdog_tick);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && running_) tick();
  });
}

}  // namespace postern::net
