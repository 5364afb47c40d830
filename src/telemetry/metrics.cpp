#include "telemetry/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <tuple>

namespace postern::telemetry {

std::size_t duration_bucket(double ms) noexcept {
  // Most exchanges take a few milliseconds: a scan from the smallest bound stops within a compare or two.
  std::size_t i = 0;
  while (i < duration_buckets_ms.size() && ms > duration_buckets_ms[i]) ++i;
  return i;
}

namespace {

// size_bucket by the bit width of (bytes - 1): every bound is a power of two, so the width picks the bucket with one
// table load instead of a search. The table is built from the bounds at compile time.
constexpr std::array<std::uint8_t, 65> make_size_bucket_by_width() {
  std::array<std::uint8_t, 65> table{};
  for (std::size_t width = 0; width <= 64; ++width) {
    // The largest value of this width is 2^width - 1; bytes = that + 1 = 2^width lands in the first bound >= it.
    const double largest = width == 64 ? 1.8446744073709552e19 : static_cast<double>(std::uint64_t{1} << width);
    std::size_t i = 0;
    while (i < size_buckets_bytes.size() && largest > size_buckets_bytes[i]) ++i;
    table[width] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr auto size_bucket_by_width = make_size_bucket_by_width();

constexpr bool size_bounds_are_powers_of_two() {
  for (const double b : size_buckets_bytes) {
    const auto v = static_cast<std::uint64_t>(b);
    if (static_cast<double>(v) != b || std::popcount(v) != 1) return false;
  }
  return true;
}
static_assert(size_bounds_are_powers_of_two(), "size_bucket's table needs power-of-two bounds");

}  // namespace

std::size_t size_bucket(std::uint64_t bytes) noexcept {
  if (bytes == 0) return 0;
  return size_bucket_by_width[static_cast<std::size_t>(std::bit_width(bytes - 1))];
}

Method method_of(std::string_view m) noexcept {
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::GET;
      if (m == "PUT") return Method::PUT;
      break;
    case 4:
      if (m == "POST") return Method::POST;
      if (m == "HEAD") return Method::HEAD;
      break;
    case 5:
      if (m == "PATCH") return Method::PATCH;
      if (m == "TRACE") return Method::TRACE;
      break;
    case 6:
      if (m == "DELETE") return Method::DELETE;
      break;
    case 7:
      if (m == "OPTIONS") return Method::OPTIONS;
      if (m == "CONNECT") return Method::CONNECT;
      break;
    default:
      break;
  }
  return Method::OTHER;
}

std::string_view to_string(Method m) noexcept {
  static constexpr std::string_view names[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                               "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"};
  return names[static_cast<std::size_t>(m)];
}

namespace {

// Eight bytes of the host at a time: the labels are short and this runs for every exchange.
std::uint64_t series_hash(SeriesKind kind, std::string_view host, Method method, unsigned status) noexcept {
  constexpr std::uint64_t k = 0x9e3779b97f4a7c15ull;
  std::uint64_t h = (static_cast<std::uint64_t>(kind) << 40) ^ (static_cast<std::uint64_t>(method) << 32) ^ status ^
                    (host.size() * k);
  const char* p = host.data();
  std::size_t n = host.size();
  for (; n > 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = std::rotl((h ^ w) * k, 29);
  }
  std::uint64_t w = 0;
  if (host.size() >= 8) std::memcpy(&w, host.data() + host.size() - 8, 8);  // the last 8, overlapping: no byte loop
  else std::memcpy(&w, p, n);
  h = std::rotl((h ^ w) * k, 29);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// Host labels are short: compared eight bytes at a time inline (the last word overlapping), no call to memcmp.
bool same_host(const char* a, const char* b, std::size_t n) noexcept {
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  std::uint64_t x, y;
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return false;
  }
  std::memcpy(&x, a + n - 8, 8);
  std::memcpy(&y, b + n - 8, 8);
  return x == y;
}

}  // namespace

WorkerMetrics::WorkerMetrics() : series_(std::make_unique<RequestSeries[]>(series_capacity)) {
  constexpr std::string_view other = "other";
  std::copy(other.begin(), other.end(), overflow_.host);
  overflow_.host_size = other.size();
  overflow_.method = Method::OTHER;
}

RequestSeries& WorkerMetrics::find(SeriesKind kind, std::string_view host, Method method, unsigned status) noexcept {
  host = host.substr(0, RequestSeries::max_host);
  // A worker mostly records the same few label sets in a row (one route, one upstream): the series of the last
  // exchange of each kind is checked first, by its labels, before the hash.
  RequestSeries* const last = last_[static_cast<std::size_t>(kind)];
  if (last != nullptr && last->status == status && last->method == method && last->host_size == host.size() &&
      same_host(last->host, host.data(), host.size()))
    return *last;
  std::size_t slot = series_hash(kind, host, method, status) & (index_size - 1);
  while (true) {
    const std::uint16_t entry = index_[slot];
    if (entry == 0) break;
    RequestSeries& s = series_[entry - 1];
    if (s.status == status && s.method == method && s.kind == kind && s.host_size == host.size() &&
        same_host(s.host, host.data(), host.size())) {
      last_[static_cast<std::size_t>(kind)] = &s;
      return s;
    }
    slot = (slot + 1) & (index_size - 1);
  }
  const std::size_t used = used_.load(std::memory_order_relaxed);
  if (used == series_capacity) return overflow_;
  RequestSeries& s = series_[used];
  s.kind = kind;
  s.method = method;
  s.status = static_cast<std::uint16_t>(status);
  std::copy(host.begin(), host.end(), s.host);
  s.host_size = static_cast<std::uint8_t>(host.size());
  index_[slot] = static_cast<std::uint16_t>(used + 1);
  used_.store(used + 1, std::memory_order_release);  // the labels above are visible to a scrape from now on
  last_[static_cast<std::size_t>(kind)] = &s;
  return s;
}

void WorkerMetrics::record(SeriesKind kind, std::string_view host, std::string_view method, unsigned status,
                           double duration_ms, std::uint64_t bytes_in, std::uint64_t bytes_out) noexcept {
  RequestSeries& s = find(kind, host, method_of(method), status);
  s.requests.add();
  s.duration.observe(duration_bucket(duration_ms), static_cast<std::uint64_t>(duration_ms * 1000.0));
  s.request_size.observe(size_bucket(bytes_in), bytes_in);
  s.response_size.observe(size_bucket(bytes_out), bytes_out);
}

void MetricsRegistry::add_worker(const WorkerMetrics* worker) {
  std::lock_guard lock(mutex_);
  workers_.push_back(worker);
}

void MetricsRegistry::set_source(std::string key, Source source) {
  std::lock_guard lock(mutex_);
  for (auto& [k, s] : sources_) {
    if (k == key) {
      s = std::move(source);
      return;
    }
  }
  sources_.emplace_back(std::move(key), std::move(source));
}

void append_label_value(std::string& out, std::string_view value) {
  for (const char ch : value) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += ch;
    }
  }
}

std::string label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  append_label_value(out, value);
  out += '"';
  return out;
}

namespace {

// A series summed over the workers.
struct Totals {
  std::uint64_t requests = 0;
  std::array<std::uint64_t, duration_buckets_ms.size() + 1> duration{};
  std::uint64_t duration_sum_us = 0;
  std::array<std::uint64_t, size_buckets_bytes.size() + 1> request_size{}, response_size{};
  std::uint64_t request_size_sum = 0, response_size_sum = 0;

  void add(const RequestSeries& s) {
    requests += s.requests.get();
    for (std::size_t i = 0; i < duration.size(); ++i) duration[i] += s.duration.buckets[i].get();
    duration_sum_us += s.duration.sum.get();
    for (std::size_t i = 0; i < request_size.size(); ++i) request_size[i] += s.request_size.buckets[i].get();
    for (std::size_t i = 0; i < response_size.size(); ++i) response_size[i] += s.response_size.buckets[i].get();
    request_size_sum += s.request_size.sum.get();
    response_size_sum += s.response_size.sum.get();
  }
};

using SeriesKey = std::tuple<SeriesKind, std::string, Method, std::uint16_t>;

std::string series_labels(const SeriesKey& key) {
  const auto& [kind, host, method, status] = key;
  std::string out = "host=\"";
  append_label_value(out, host);
  out += "\",method=\"";
  out += to_string(method);
  out += '"';
  if (kind != SeriesKind::client)
    out += kind == SeriesKind::server_proxy ? ",service=\"proxy\"" : ",service=\"authenticate\"";
  out += ",status=\"";
  if (status == 0) out += "other";
  else fmt::format_to(std::back_inserter(out), "{}", status);
  out += '"';
  return out;
}

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <std::size_t N>
void histogram(std::string& out, std::string_view name, const std::string& labels,
               const std::array<std::uint64_t, N>& buckets, std::uint64_t count, double sum,
               const std::array<double, N - 1>& bounds) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < N; ++i) {
    cumulative += buckets[i];
    if (i + 1 < N) fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bounds[i], cumulative);
    else fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
  }
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum, name, labels, count);
}

void exchange_families(std::string& out, const std::map<SeriesKey, Totals>& series, bool client) {
  const std::string_view side = client ? "client" : "server";
  const auto chosen = [&](const SeriesKey& k) { return (std::get<0>(k) == SeriesKind::client) == client; };
  const std::string requests = fmt::format("pomerium_http_{}_requests_total", side);
  const std::string duration = fmt::format("pomerium_http_{}_request_duration_ms", side);
  const std::string request_size = fmt::format("pomerium_http_{}_request_size_bytes", side);
  const std::string response_size = fmt::format("pomerium_http_{}_response_size_bytes", side);
  header(out, requests, client ? "Requests Postern made to upstreams." : "Requests Postern answered.", "counter");
  for (const auto& [key, t] : series) {
    if (chosen(key)) fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", requests, series_labels(key), t.requests);
  }
  header(out, duration, "Time from the request's first byte to the response's end, in milliseconds.", "histogram");
  for (const auto& [key, t] : series) {
    if (chosen(key))
      histogram(out, duration, series_labels(key), t.duration, t.requests, static_cast<double>(t.duration_sum_us) / 1000.0,
                duration_buckets_ms);
  }
  header(out, request_size, "Request body sizes in bytes.", "histogram");
  for (const auto& [key, t] : series) {
    if (chosen(key))
      histogram(out, request_size, series_labels(key), t.request_size, t.requests,
                static_cast<double>(t.request_size_sum), size_buckets_bytes);
  }
  header(out, response_size, "Response body sizes in bytes.", "histogram");
  for (const auto& [key, t] : series) {
    if (chosen(key))
      histogram(out, response_size, series_labels(key), t.response_size, t.requests,
                static_cast<double>(t.response_size_sum), size_buckets_bytes);
  }
}

}  // namespace

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::map<SeriesKey, Totals> series;
  std::array<std::uint64_t, 3> decisions{};
  std::array<std::uint64_t, 2> sign_ins{};
  std::uint64_t connections = 0, active = 0;
  for (const WorkerMetrics* w : workers_) {
    const std::size_t n = w->series_count();
    for (std::size_t i = 0; i < n; ++i) {
      const RequestSeries& s = w->series(i);
      series[{s.kind, std::string(s.host_label()), s.method, s.status}].add(s);
    }
    if (w->overflow().requests.get() > 0) {
      // The overflow series is one label set per kind at most; counted as the server's proxy side.
      series[{SeriesKind::server_proxy, "other", Method::OTHER, 0}].add(w->overflow());
    }
    for (std::size_t d = 0; d < decisions.size(); ++d) decisions[d] += w->decisions(static_cast<Decision>(d));
    for (std::size_t s = 0; s < sign_ins.size(); ++s) sign_ins[s] += w->sign_ins(static_cast<SignIn>(s));
    connections += w->connections.get();
    active += w->requests_active.get();
  }
  std::string out;
  out.reserve(4096 + series.size() * 3000);
  exchange_families(out, series, false);
  exchange_families(out, series, true);
  header(out, "postern_authorize_decisions_total", "Policy decisions by outcome.", "counter");
  static constexpr std::string_view decision_names[] = {"allow", "deny", "sign-in-required"};
  for (std::size_t d = 0; d < decisions.size(); ++d)
    fmt::format_to(std::back_inserter(out), "postern_authorize_decisions_total{{outcome=\"{}\"}} {}\n",
                   decision_names[d], decisions[d]);
  header(out, "postern_sign_ins_total", "Completed sign-in callbacks by result.", "counter");
  fmt::format_to(std::back_inserter(out), "postern_sign_ins_total{{result=\"success\"}} {}\n", sign_ins[0]);
  fmt::format_to(std::back_inserter(out), "postern_sign_ins_total{{result=\"failure\"}} {}\n", sign_ins[1]);
  header(out, "postern_active_connections", "Downstream connections open now.", "gauge");
  fmt::format_to(std::back_inserter(out), "postern_active_connections {}\n", connections);
  header(out, "postern_active_requests", "Requests in progress now.", "gauge");
  fmt::format_to(std::back_inserter(out), "postern_active_requests {}\n", active);

  std::vector<Family> families;
  for (const auto& [key, source] : sources_) source(families);
  for (const Family& f : families) {
    header(out, f.name, f.help, f.type);
    for (const Sample& s : f.samples) {
      if (s.labels.empty()) fmt::format_to(std::back_inserter(out), "{} {}\n", f.name, s.value);
      else fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", f.name, s.labels, s.value);
    }
  }
  return out;
}

}  // namespace postern::telemetry
