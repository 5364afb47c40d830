#pragma once
// Prometheus metrics. Each worker counts in its own cells (`WorkerMetrics`): every cell has one writer, the worker,
// which adds with a relaxed load and store (a plain memory write on x86, no locked instruction, no cache line shared
// with another worker); a scrape on another thread reads the cells with relaxed loads and sums the workers. Series
// are found by the worker in its own index; a new series is filled in before the count of series is published
// (release), so a scrape never sees a half-written label. Every table has a fixed capacity: what does not fit is
// counted in one overflow series, so memory and the scrape's size are bounded whatever the clients send.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace postern::telemetry {

// One writer, any number of readers.
class Cell {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(std::uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Bucket upper bounds (inclusive, as Prometheus' `le`); the last bucket is +Inf.
inline constexpr std::array<double, 15> duration_buckets_ms{1,   2,   5,    10,   25,   50,    100,  250,
                                                            500, 1000, 2500, 5000, 10000, 30000, 60000};
inline constexpr std::array<double, 10> size_buckets_bytes{64,     256,     1024,     4096,      16384,
                                                           65536,  262144,  1048576,  16777216,  268435456};

template <std::size_t N>
struct Histogram {
  std::array<Cell, N + 1> buckets;  // non-cumulative; the last is +Inf
  Cell sum;                         // microseconds for durations, bytes for sizes
  void observe(std::size_t bucket, std::uint64_t sum_units) noexcept {
    buckets[bucket].add();
    sum.add(sum_units);
  }
};

[[nodiscard]] std::size_t duration_bucket(double ms) noexcept;
[[nodiscard]] std::size_t size_bucket(std::uint64_t bytes) noexcept;

// HTTP methods as a label: the standard ones, anything else is OTHER (a client cannot grow the label set).
enum class Method : std::uint8_t { GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, OTHER };
[[nodiscard]] Method method_of(std::string_view method) noexcept;
[[nodiscard]] std::string_view to_string(Method m) noexcept;

// Which side of Postern an exchange is: requests it serves (`pomerium_http_server_*`, service "proxy" for routes,
// "authenticate" for its own endpoints) or requests it makes to upstreams (`pomerium_http_client_*`).
enum class SeriesKind : std::uint8_t { server_proxy, server_authenticate, client };

// One label set and its counters.
struct RequestSeries {
  static constexpr std::size_t max_host = 96;  // longer host labels are cut (hosts come from the configuration)
  SeriesKind kind{};
  Method method{};
  std::uint16_t status = 0;
  std::uint8_t host_size = 0;
  char host[max_host]{};
  Cell requests;
  Histogram<duration_buckets_ms.size()> duration;  // sum in microseconds
  Histogram<size_buckets_bytes.size()> request_size;
  Histogram<size_buckets_bytes.size()> response_size;
  [[nodiscard]] std::string_view host_label() const noexcept { return {host, host_size}; }
};

enum class Decision : std::uint8_t { allow, deny, sign_in_required };
enum class SignIn : std::uint8_t { success, failure };

class WorkerMetrics {
 public:
  // Label sets per worker; past it, exchanges count in the overflow series (host "other", method OTHER, status 0).
  static constexpr std::size_t series_capacity = 512;

  WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // One exchange (worker thread only). `host` is a configured host (a route's `from` host, the authenticate host),
  // never the raw Host header.
  void record(SeriesKind kind, std::string_view host, std::string_view method, unsigned status, double duration_ms,
              std::uint64_t bytes_in, std::uint64_t bytes_out) noexcept;
  void decision(Decision d) noexcept { decisions_[static_cast<std::size_t>(d)].add(); }
  void sign_in(SignIn s) noexcept { sign_ins_[static_cast<std::size_t>(s)].add(); }
  Cell connections;      // downstream connections open now
  Cell requests_active;  // requests (streams) in progress now

  // Reader side (any thread).
  [[nodiscard]] std::size_t series_count() const noexcept { return used_.load(std::memory_order_acquire); }
  [[nodiscard]] const RequestSeries& series(std::size_t i) const noexcept { return series_[i]; }
  [[nodiscard]] const RequestSeries& overflow() const noexcept { return overflow_; }
  [[nodiscard]] std::uint64_t decisions(Decision d) const noexcept { return decisions_[static_cast<std::size_t>(d)].get(); }
  [[nodiscard]] std::uint64_t sign_ins(SignIn s) const noexcept { return sign_ins_[static_cast<std::size_t>(s)].get(); }

 private:
  RequestSeries& find(SeriesKind kind, std::string_view host, Method method, unsigned status) noexcept;

  static constexpr std::size_t index_size = 1024;  // open addressing over series_; a power of two > capacity
  std::unique_ptr<RequestSeries[]> series_;
  std::atomic<std::size_t> used_{0};
  RequestSeries overflow_;
  std::array<std::uint16_t, index_size> index_{};  // series number + 1; 0 = empty (worker only)
  std::array<RequestSeries*, 3> last_{};           // per SeriesKind, the series found last (worker only; never overflow_)
  std::array<Cell, 3> decisions_;
  std::array<Cell, 2> sign_ins_;
};

// What one scrape reports beyond the workers' cells: values read from the rest of the process at scrape time.
struct Sample {
  std::string labels;  // `name="value",...` (escaped), or empty
  double value = 0;
};
struct Family {
  std::string name;
  std::string help;
  std::string type;  // counter, gauge
  std::vector<Sample> samples;
};

// The process's metrics: the workers' cells and the sources that are read when scraped. Workers register their cells
// before they start; sources may be replaced (a reload) under the registry's lock, which only scrapes and reloads take.
class MetricsRegistry {
 public:
  void add_worker(const WorkerMetrics* worker);
  // A source appends families when scraped (called on the scraping thread; must be thread-safe on its side).
  using Source = std::function<void(std::vector<Family>&)>;
  void set_source(std::string key, Source source);

  // The Prometheus text exposition (version 0.0.4) of everything. Allocates in proportion to the number of series,
  // which is bounded (series_capacity per worker).
  [[nodiscard]] std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::vector<const WorkerMetrics*> workers_;
  std::vector<std::pair<std::string, Source>> sources_;
};

// A label value escaped for the exposition format (backslash, quote, newline).
void append_label_value(std::string& out, std::string_view value);
[[nodiscard]] std::string label(std::string_view name, std::string_view value);

}  // namespace postern::telemetry
