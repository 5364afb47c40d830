#include "net/name_resolver.h"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace postern::net {
namespace asio = boost::asio;
using boost::asio::ip::tcp;

// One lookup. `host`, `port` and `result` are written by one side and handed to the other under State::mutex;
// `waiter` belongs to the io_context's thread alone.
struct NameResolver::Job {
  std::string host;
  std::uint16_t port = 0;
  Lookup result;
  Timer* waiter = nullptr;  // the waiting coroutine's timer, cancelled to wake it; null once it stopped waiting
};

struct NameResolver::State {
  std::mutex mutex;
  std::condition_variable work;
  std::deque<std::shared_ptr<Job>> todo;  // bounded by max_queued
  std::deque<std::shared_ptr<Job>> done;
  bool stopping = false;
  bool thread_started = false;
  int event_fd = -1;  // owned here; the worker side watches a dup of it

  ~State() {
    if (event_fd >= 0) ::close(event_fd);
  }

  static Lookup lookup(const std::string& host, std::uint16_t port) {
    Lookup out;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;  // no AI_ADDRCONFIG, as Asio's resolver: "localhost" keeps ::1 on IPv4-only hosts
    addrinfo* list = nullptr;
    const std::string service = std::to_string(port);
    const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
      out.error = rc == EAI_NONAME || rc == EAI_NODATA ? asio::error::host_not_found
                  : rc == EAI_AGAIN                     ? asio::error::host_not_found_try_again
                                                        : asio::error::no_recovery;
      return out;
    }
    for (const addrinfo* ai = list; ai; ai = ai->ai_next) {
      if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
        tcp::endpoint e;
        std::memcpy(e.data(), ai->ai_addr, ai->ai_addrlen);
        e.resize(ai->ai_addrlen);
        out.endpoints.push_back(e);
      }
    }
    ::freeaddrinfo(list);
    if (out.endpoints.empty()) out.error = asio::error::host_not_found;
    return out;
  }

  static void run(std::shared_ptr<State> self) {
    std::unique_lock lock(self->mutex);
    while (true) {
      self->work.wait(lock, [&] { return self->stopping || !self->todo.empty(); });
      if (self->stopping) return;
      auto job = std::move(self->todo.front());
      self->todo.pop_front();
      lock.unlock();
      job->result = lookup(job->host, job->port);  // blocks: that is why it runs here
      lock.lock();
      self->done.push_back(std::move(job));
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto n = ::write(self->event_fd, &one, sizeof one);
    }
  }
};

namespace {

Lookup failed_lookup(boost::system::error_code error) {
  Lookup out;
  out.error = error;
  return out;
}

}  // namespace

NameResolver::NameResolver(asio::io_context& io) : io_(io), state_(std::make_shared<State>()) {}

NameResolver::~NameResolver() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work.notify_all();
}

void NameResolver::shutdown() {
  stopped_ = true;
  if (ready_) {
    boost::system::error_code ec;
    ready_->close(ec);  // the pending wait ends with operation_aborted; lookups still running are abandoned
  }
}

// Waits for the eventfd while lookups are outstanding (a wait left pending would keep the io_context running).
void NameResolver::arm() {
  if (armed_ || waiting_ == 0 || stopped_) return;
  armed_ = true;
  ready_->async_wait(asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
    armed_ = false;
    if (ec) return;
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(ready_->native_handle(), &count, sizeof count);
    deliver();
    arm();
  });
}

void NameResolver::deliver() {
  std::deque<std::shared_ptr<Job>> finished;
  {
    std::lock_guard lock(state_->mutex);
    finished.swap(state_->done);
  }
  for (auto& job : finished) {
    --waiting_;
    if (job->waiter) job->waiter->cancel();  // wakes the coroutine, which reads job->result
  }
}

Task<Lookup> NameResolver::resolve(std::string host, std::uint16_t port, Watched::clock::time_point deadline) {
  if (stopped_) co_return failed_lookup(asio::error::operation_aborted);
  auto job = std::make_shared<Job>();
  job->host = std::move(host);
  job->port = port;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->todo.size() >= max_queued) co_return failed_lookup(asio::error::no_buffer_space);
    if (!state_->thread_started) {
      if (state_->event_fd < 0) state_->event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      const int mine = state_->event_fd >= 0 ? ::dup(state_->event_fd) : -1;
      if (mine < 0)  // the eventfd (if any) is kept for the next attempt
        co_return failed_lookup(boost::system::error_code(errno, boost::system::system_category()));
      ready_ = std::make_unique<asio::posix::basic_stream_descriptor<Executor>>(io_.get_executor(), mine);
      std::thread(State::run, state_).detach();  // holds the state until it exits
      state_->thread_started = true;
    }
    state_->todo.push_back(job);
  }
  state_->work.notify_one();
  ++waiting_;
  arm();

  // The timer expires at the deadline unless deliver() cancels it first.
  const auto remaining = deadline - Watched::clock::now();
  Timer wake(io_.get_executor(), std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining));
  job->waiter = &wake;
  auto [ec] = co_await wake.async_wait(nothrow);
  job->waiter = nullptr;
  // Past the deadline the lookup goes on alone; its result is dropped on delivery.
  if (!ec) co_return failed_lookup(asio::error::timed_out);
  co_return std::move(job->result);
}

}  // namespace postern::net
