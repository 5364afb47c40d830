#include "telemetry/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <thread>
#include <vector>
#include <charconv>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "core/strings.h"
#include "telemetry/line_writer.h"

namespace postern::telemetry {
namespace {

std::mutex stdout_mutex;

// Fixed text, numbers and the timestamp of one line take well under this; strings may grow six-fold when escaped.
constexpr std::size_t fixed_bound = 512;

std::size_t line_bound(const AccessRecord& r) {
  return fixed_bound + core::max_json_escaped_size(r.request_id.size() + r.method.size() + r.host.size() +
                                                   r.path.size() + r.upstream.size() + r.client_ip.size() +
                                                   r.protocol.size());
}

std::size_t format_line(const AccessRecord& r, char* out) {
  LineWriter w(out);
  w.literal("{\"time\":\"");
  write_time(w);
  w.literal("\",\"request_id\":\"");
  w.string(r.request_id);
  w.literal("\",\"method\":\"");
  w.string(r.method);
  w.literal("\",\"host\":\"");
  w.string(r.host);
  w.literal("\",\"path\":\"");
  w.string(r.path);
  w.literal("\",\"status\":");
  w.number(r.status);
  // duration_ms with three decimals, from integer microseconds.
  const auto micros = static_cast<std::uint64_t>(r.duration_ms * 1000.0 + 0.5);
  w.literal(",\"duration_ms\":");
  w.number(micros / 1000);
  const char frac[4] = {'.', static_cast<char>('0' + micros / 100 % 10), static_cast<char>('0' + micros / 10 % 10),
                        static_cast<char>('0' + micros % 10)};
  w.raw(frac, 4);
  w.literal(",\"upstream\":\"");
  w.string(r.upstream);
  w.literal("\",\"bytes_in\":");
  w.number(r.bytes_in);
  w.literal(",\"bytes_out\":");
  w.number(r.bytes_out);
  w.literal(",\"client_ip\":\"");
  w.string(r.client_ip);
  w.literal("\",\"protocol\":\"");
  w.string(r.protocol);
  w.literal("\"}\n");
  return w.size();
}

void write_all(const char* data, std::size_t size) {
  std::lock_guard lock(stdout_mutex);
  std::string_view rest(data, size);
  while (!rest.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stdout closed or broken: drop the batch rather than stall
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Writes the workers' filled buffers to stdout on a thread of its own: a write to a log file on a busy disk, or to a
// pipe whose reader lags (a container's log driver), can block for milliseconds or more, which must not stall a
// worker's event loop. Normal priority: a write takes tens of microseconds, and a lower one would let busy
// neighbours starve the writer until its queue fills. Bounded: when `max_queued` buffers wait already, a worker
// handing over another waits (back-pressure rather than lost or reordered lines).
class Writer {
 public:
  static constexpr std::size_t max_queued = 128;  // of AccessLog::capacity bytes each: 8 MiB
  static constexpr std::size_t max_spares = 16;

  static Writer& instance() {
    static Writer writer;
    return writer;
  }

  // Takes `buffer` (holding `size` bytes) to write; gives back an empty buffer to go on with. Waits while the
  // queue is full (back-pressure: lines are neither lost nor reordered).
  std::unique_ptr<char[]> submit(std::unique_ptr<char[]> buffer, std::size_t size) {
    auto spare = enqueue({std::move(buffer), size, true});
    return spare ? std::move(spare) : std::unique_ptr<char[]>(new char[AccessLog::capacity]);
  }

  // Takes a buffer of another size (one line too long for a worker's buffer), to be written after what is queued.
  void submit_once(std::unique_ptr<char[]> buffer, std::size_t size) { enqueue({std::move(buffer), size, false}); }

  // Returns once everything submitted so far is written.
  void drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return queue_.empty() && !writing_; });
  }

 private:
  struct Pending {
    std::unique_ptr<char[]> data;
    std::size_t size;
    bool recyclable;  // of AccessLog::capacity bytes
  };

  // Queues `pending`, waiting while the queue is full; for a recyclable buffer, hands back a spare one if any.
  std::unique_ptr<char[]> enqueue(Pending pending) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < max_queued; });
    const bool recyclable = pending.recyclable;
    queue_.push_back(std::move(pending));
    std::unique_ptr<char[]> spare;
    if (recyclable && !spares_.empty()) {
      spare = std::move(spares_.back());
      spares_.pop_back();
    }
    lock.unlock();
    work_.notify_one();
    return spare;
  }

  Writer() : thread_([this] { run(); }) {}
  ~Writer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_.notify_one();
    thread_.join();  // after writing what is queued
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      Pending next = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      space_.notify_one();
      write_all(next.data.get(), next.size);
      lock.lock();
      writing_ = false;
      if (next.recyclable && spares_.size() < max_spares) spares_.push_back(std::move(next.data));
      if (queue_.empty()) idle_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::condition_variable space_;
  std::deque<Pending> queue_;
  std::vector<std::unique_ptr<char[]>> spares_;
  bool writing_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

AccessLog::AccessLog() : buffer_(new char[capacity]) {}

template <class Record>
bool AccessLog::append_line(const Record& r, std::size_t bound, std::size_t (*format)(const Record&, char*)) {
  const bool was_empty = size_ == 0;
  if (bound > capacity) {
    // A line too long for the buffer (a huge Host or path): handed over on its own, after what is buffered.
    std::unique_ptr<char[]> line(new char[bound]);
    const std::size_t n = format(r, line.get());
    flush();
    Writer::instance().submit_once(std::move(line), n);
    return false;
  }
  if (capacity - size_ < bound) flush();
  size_ += format(r, buffer_.get() + size_);
  if (size_ >= flush_threshold) {
    flush();
    return false;
  }
  return was_empty;
}

bool AccessLog::append(const AccessRecord& r) { return append_line(r, line_bound(r), &format_line); }

bool AccessLog::append(const AuthorizeRecord& r) {
  return append_line<AuthorizeRecord>(r, authorize_line_bound(r), &format_authorize_line);
}

void AccessLog::flush() {
  if (size_ == 0) return;
  buffer_ = Writer::instance().submit(std::move(buffer_), size_);
  size_ = 0;
}

void flush_access_logs() { Writer::instance().drain(); }

std::string AccessLog::format(const AccessRecord& r) {
  std::string line(line_bound(r), '\0');
  line.resize(format_line(r, line.data()));
  return line;
}

}  // namespace postern::telemetry
