#include "config/cluster_options.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "core/duration.h"
#include "core/strings.h"

namespace postern::config {
namespace {

constexpr std::string_view cluster_keys[] = {
    "lb_policy", "load_balancing_policy", "ring_hash_lb_config", "maglev_lb_config", "hash_policy",
    "health_checks", "outlier_detection", "healthy_panic_threshold", "common_lb_config"};

// Envoy Cluster fields a Pomerium ≤ v0.32 route could carry (its Envoy passthrough) that Postern does not implement.
constexpr std::string_view unimplemented_cluster_fields[] = {
    "connect_timeout", "per_connection_buffer_limit_bytes", "circuit_breakers", "upstream_connection_options",
    "dns_lookup_family", "dns_refresh_rate", "dns_failure_refresh_rate", "respect_dns_ttl", "dns_resolvers",
    "dns_resolution_config", "typed_dns_resolver_config", "use_tcp_for_dns_lookups",
    "common_http_protocol_options", "http_protocol_options", "http2_protocol_options",
    "upstream_http_protocol_options", "typed_extension_protocol_options", "least_request_lb_config",
    "round_robin_lb_config", "original_dst_lb_config", "lb_subset_config", "locality_weighted_lb_config",
    "close_connections_on_host_health_failure", "ignore_health_on_host_removal", "track_timeout_budgets",
    "track_cluster_stats", "preconnect_policy", "lrs_server", "cleanup_interval", "upstream_bind_config",
    "transport_socket", "transport_socket_matches", "max_requests_per_connection", "protocol_selection",
    "alt_stat_name", "eds_cluster_config", "load_assignment", "filters", "connection_pool_per_downstream_connection",
    "load_balancing_policy_config", "wait_for_warm_on_init", "upstream_config"};

class Decoder {
 public:
  Decoder(const std::string& prefix, std::vector<OptionProblem>& problems) : prefix_(prefix), problems_(problems) {}

  void problem(const YAML::Node& n, const std::string& key, std::string message, bool warning = false) {
    problems_.push_back({n.Mark().is_null() ? -1 : n.Mark().line, prefix_ + key, std::move(message), warning});
  }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& key) {
    if (n.IsScalar()) return n.Scalar();
    problem(n, key, "expected a single value");
    return std::nullopt;
  }

  std::optional<Duration> duration(const YAML::Node& n, const std::string& key, bool positive) {
    auto s = scalar(n, key);
    if (!s) return std::nullopt;
    auto d = core::parse_duration(core::trim(*s));
    if (!d || d->count() < 0 || (positive && d->count() == 0)) {
      problem(n, key, std::string("expected a ") + (positive ? "positive " : "") + "duration such as 5s, got \"" +
                          *s + "\"");
      return std::nullopt;
    }
    return d;
  }

  // A whole number; Envoy's wrapper form {value: N} is accepted too.
  std::optional<std::uint32_t> number(const YAML::Node& n, const std::string& key, std::uint32_t min,
                                      std::uint32_t max) {
    const YAML::Node v = n.IsMap() && n["value"].IsDefined() ? n["value"] : n;
    auto s = scalar(v, key);
    if (!s) return std::nullopt;
    const std::string_view t = core::trim(*s);
    std::uint64_t out = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || out < min || out > max) {
      problem(v, key, "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                          ", got \"" + *s + "\"");
      return std::nullopt;
    }
    return static_cast<std::uint32_t>(out);
  }

  // Warns about the keys of `map` that are not in `known`, naming them.
  template <std::size_t N>
  void only(const YAML::Node& map, const std::string& key, const std::array<std::string_view, N>& known,
            std::string_view what) {
    for (const auto& kv : map) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (std::find(known.begin(), known.end(), k) == known.end())
        problem(kv.first, key + "." + k,
                "an Envoy " + std::string(what) + " option Postern does not implement; ignored", true);
    }
  }

  void lb_policy(const YAML::Node& n, const std::string& key, UpstreamOptions& out) {
    auto s = scalar(n, key);
    if (!s) return;
    const std::string v = core::to_lower(std::string(core::trim(*s)));
    if (v == "round_robin") out.lb_policy = LbPolicy::round_robin;
    else if (v == "least_request") out.lb_policy = LbPolicy::least_request;
    else if (v == "random") out.lb_policy = LbPolicy::random;
    else if (v == "ring_hash") out.lb_policy = LbPolicy::ring_hash;
    else if (v == "maglev") out.lb_policy = LbPolicy::maglev;
    else
      problem(n, key, "expected round_robin, least_request, random, ring_hash or maglev (any case), got \"" + *s +
                          "\"");
  }

  void ring_hash(const YAML::Node& n, const std::string& key, UpstreamOptions& out) {
    if (!n.IsMap()) return problem(n, key, "expected a map with minimum_ring_size and maximum_ring_size");
    only(n, key, std::array<std::string_view, 3>{"minimum_ring_size", "maximum_ring_size", "hash_function"},
         "ring hash");
    constexpr std::uint32_t limit = 8 * 1024 * 1024;
    if (n["minimum_ring_size"]) {
      if (auto v = number(n["minimum_ring_size"], key + ".minimum_ring_size", 1, limit)) out.ring_minimum_size = *v;
    }
    if (n["maximum_ring_size"]) {
      if (auto v = number(n["maximum_ring_size"], key + ".maximum_ring_size", 1, limit)) out.ring_maximum_size = *v;
    }
    if (out.ring_maximum_size < out.ring_minimum_size)
      problem(n, key, "maximum_ring_size is smaller than minimum_ring_size");
    if (n["hash_function"] && n["hash_function"].IsScalar() && n["hash_function"].Scalar() != "XX_HASH")
      problem(n["hash_function"], key + ".hash_function",
              "Postern hashes with its own 64-bit function; the hash function cannot be chosen", true);
  }

  void maglev(const YAML::Node& n, const std::string& key, UpstreamOptions& out) {
    if (!n.IsMap()) return problem(n, key, "expected a map with table_size");
    only(n, key, std::array<std::string_view, 1>{"table_size"}, "maglev");
    if (!n["table_size"]) return;
    auto v = number(n["table_size"], key + ".table_size", 2, 5'000'011);
    if (!v) return;
    bool prime = *v >= 2;
    for (std::uint32_t d = 2; prime && std::uint64_t(d) * d <= *v; ++d) prime = *v % d != 0;
    if (!prime) return problem(n["table_size"], key + ".table_size", "must be a prime number (65537 by default)");
    out.maglev_table_size = *v;
  }

  void hash_policy(const YAML::Node& n, const std::string& key, UpstreamOptions& out) {
    if (!n.IsSequence()) return problem(n, key, "expected a list such as [{header: {header_name: X-Tenant}}]");
    std::size_t i = 0;
    for (const auto& item : n) {
      const std::string k = key + "[" + std::to_string(i++) + "]";
      if (!item.IsMap()) {
        problem(item, k, "expected a map such as {header: {header_name: X-Tenant}}");
        continue;
      }
      for (const auto& kv : item) {
        const std::string kind = kv.first.IsScalar() ? kv.first.Scalar() : "";
        if (kind == "header") {
          const YAML::Node name = kv.second.IsMap() ? kv.second["header_name"] : YAML::Node();
          if (!name || !name.IsScalar() || name.Scalar().empty()) {
            problem(kv.second, k + ".header", "expected {header_name: <a header name>}");
          } else if (out.hash_header.empty()) {
            out.hash_header = core::to_lower(name.Scalar());
          } else {
            problem(kv.first, k + ".header", "only the first header hash policy is used", true);
          }
        } else if (kind != "terminal") {
          problem(kv.first, k + "." + kind,
                  "Postern hashes the header a hash_policy names, else the session; " + kind +
                      " hashing is not implemented; ignored",
                  true);
        }
      }
    }
  }

  void panic_threshold(const YAML::Node& n, const std::string& key, UpstreamOptions& out) {
    const YAML::Node v = n.IsMap() && n["value"].IsDefined() ? n["value"] : n;
    auto s = scalar(v, key);
    if (!s) return;
    double d = -1;
    try {
      std::size_t used = 0;
      d = std::stod(*s, &used);
      if (used != s->size()) d = -1;
    } catch (const std::exception&) {
      d = -1;
    }
    if (!(d >= 0 && d <= 100)) return problem(v, key, "expected a percentage from 0 to 100, got \"" + *s + "\"");
    out.healthy_panic_threshold = d;
  }

  void health_check(const YAML::Node& n, const std::string& key, std::vector<HealthCheckSettings>& out) {
    if (!n.IsMap())
      return problem(n, key, "expected a health check: a map with timeout, interval, unhealthy_threshold, "
                             "healthy_threshold and http_health_check or tcp_health_check");
    only(n, key,
         std::array<std::string_view, 8>{"timeout", "interval", "initial_jitter", "unhealthy_threshold",
                                         "healthy_threshold", "http_health_check", "tcp_health_check",
                                         "grpc_health_check"},
         "health check");
    HealthCheckSettings hc;
    const std::size_t before = errors();
    auto required = [&](const char* k) {
      if (n[k]) return true;
      problem(n, key + "." + k, std::string("a health check needs ") + k + " (as in Envoy)");
      return false;
    };
    if (required("timeout"))
      if (auto d = duration(n["timeout"], key + ".timeout", true)) hc.timeout = *d;
    if (required("interval"))
      if (auto d = duration(n["interval"], key + ".interval", true)) hc.interval = *d;
    if (n["initial_jitter"])
      if (auto d = duration(n["initial_jitter"], key + ".initial_jitter", false)) hc.initial_jitter = *d;
    if (required("unhealthy_threshold"))
      if (auto v = number(n["unhealthy_threshold"], key + ".unhealthy_threshold", 1, 1000)) hc.unhealthy_threshold = *v;
    if (required("healthy_threshold"))
      if (auto v = number(n["healthy_threshold"], key + ".healthy_threshold", 1, 1000)) hc.healthy_threshold = *v;
    const int kinds = int(bool(n["http_health_check"])) + int(bool(n["tcp_health_check"])) +
                      int(bool(n["grpc_health_check"]));
    if (kinds != 1)
      return problem(n, key, "a health check needs exactly one of http_health_check, tcp_health_check and "
                             "grpc_health_check");
    if (n["grpc_health_check"]) {
      problem(n["grpc_health_check"], key + ".grpc_health_check",
              "gRPC health checks are not implemented yet; this health check is skipped (use tcp_health_check)",
              true);
      return;
    }
    if (const YAML::Node tcp = n["tcp_health_check"]) {
      hc.kind = HealthCheckSettings::Kind::tcp;
      if (tcp.IsMap() && tcp.size() > 0)
        problem(tcp, key + ".tcp_health_check",
                "send and receive payloads are not implemented: the check is a TCP connection alone", true);
    } else {
      const YAML::Node http = n["http_health_check"];
      hc.kind = HealthCheckSettings::Kind::http;
      if (!http.IsMap()) return problem(http, key + ".http_health_check", "expected a map with path");
      const std::string hk = key + ".http_health_check";
      only(http, hk, std::array<std::string_view, 3>{"path", "host", "expected_statuses"}, "HTTP health check");
      if (!http["path"]) problem(http, hk + ".path", "an HTTP health check needs a path (as in Envoy)");
      else if (auto p = scalar(http["path"], hk + ".path")) {
        if (!p->starts_with('/') || p->find_first_of(" \r\n\t") != std::string::npos)
          problem(http["path"], hk + ".path", "expected a path starting with /");
        hc.path = *p;
      }
      if (http["host"]) {
        if (auto h = scalar(http["host"], hk + ".host")) {
          if (h->empty() || h->find_first_of(" /\r\n\t") != std::string::npos)
            problem(http["host"], hk + ".host", "expected a host[:port]");
          hc.host = *h;
        }
      }
      if (const YAML::Node statuses = http["expected_statuses"]) {
        if (!statuses.IsSequence() || statuses.size() == 0) {
          problem(statuses, hk + ".expected_statuses", "expected a list of ranges such as [{start: 200, end: 300}]");
        } else {
          hc.expected_statuses.clear();
          std::size_t i = 0;
          for (const auto& range : statuses) {
            const std::string rk = hk + ".expected_statuses[" + std::to_string(i++) + "]";
            if (!range.IsMap() || !range["start"] || !range["end"]) {
              problem(range, rk, "expected {start: N, end: M}: statuses N up to, not including, M");
              continue;
            }
            auto start = number(range["start"], rk + ".start", 100, 599);
            auto end = number(range["end"], rk + ".end", 101, 600);
            if (start && end && *end <= *start) problem(range, rk, "end must be greater than start (end is excluded)");
            else if (start && end) hc.expected_statuses.emplace_back(*start, *end);
          }
        }
      }
    }
    if (errors() == before) out.push_back(std::move(hc));
  }

  void outlier(const YAML::Node& n, const std::string& key, OutlierDetectionSettings& o) {
    if (!n.IsMap()) return problem(n, key, "expected a map such as {consecutive_5xx: 5, base_ejection_time: 30s}");
    only(n, key,
         std::array<std::string_view, 9>{"consecutive_5xx", "consecutive_gateway_failure", "enforcing_consecutive_5xx",
                                         "enforcing_consecutive_gateway_failure", "interval", "base_ejection_time",
                                         "max_ejection_time", "max_ejection_percent", "split_external_local_origin_errors"},
         "outlier detection");
    o.enabled = true;
    if (n["consecutive_5xx"])
      if (auto v = number(n["consecutive_5xx"], key + ".consecutive_5xx", 1, 1'000'000)) o.consecutive_5xx = *v;
    if (n["consecutive_gateway_failure"])
      if (auto v = number(n["consecutive_gateway_failure"], key + ".consecutive_gateway_failure", 1, 1'000'000))
        o.consecutive_gateway_failure = *v;
    for (auto [name, field] : {std::pair{"enforcing_consecutive_5xx", &o.enforcing_consecutive_5xx},
                               std::pair{"enforcing_consecutive_gateway_failure", &o.enforcing_consecutive_gateway_failure}}) {
      if (!n[name]) continue;
      auto v = number(n[name], key + "." + name, 0, 100);
      if (!v) continue;
      if (*v != 0 && *v != 100)
        problem(n[name], key + "." + name, "Postern enforces all or nothing: 0 or 100 (a value between counts as 100)",
                true);
      *field = *v;
    }
    if (n["interval"])
      if (auto d = duration(n["interval"], key + ".interval", true)) o.interval = *d;
    if (n["base_ejection_time"])
      if (auto d = duration(n["base_ejection_time"], key + ".base_ejection_time", true)) o.base_ejection_time = *d;
    if (n["max_ejection_time"])
      if (auto d = duration(n["max_ejection_time"], key + ".max_ejection_time", true)) o.max_ejection_time = *d;
    if (n["max_ejection_percent"])
      if (auto v = number(n["max_ejection_percent"], key + ".max_ejection_percent", 0, 100)) o.max_ejection_percent = *v;
    if (o.max_ejection_time < o.base_ejection_time) o.max_ejection_time = o.base_ejection_time;
  }

  [[nodiscard]] std::size_t errors() const {
    return static_cast<std::size_t>(
        std::count_if(problems_.begin(), problems_.end(), [](const OptionProblem& p) { return !p.warning; }));
  }

 private:
  const std::string& prefix_;
  std::vector<OptionProblem>& problems_;
};

}  // namespace

bool is_cluster_option(std::string_view key) noexcept {
  return std::find(std::begin(cluster_keys), std::end(cluster_keys), key) != std::end(cluster_keys);
}

bool is_unimplemented_cluster_field(std::string_view key) noexcept {
  return std::find(std::begin(unimplemented_cluster_fields), std::end(unimplemented_cluster_fields), key) !=
         std::end(unimplemented_cluster_fields);
}

void decode_cluster_options(const YAML::Node& route, const std::string& prefix, std::size_t target_count,
                            UpstreamOptions& out, std::vector<OptionProblem>& problems) {
  Decoder d(prefix, problems);
  const YAML::Node lb = route["lb_policy"], lbp = route["load_balancing_policy"];
  if (lb && lbp) d.problem(lbp, "load_balancing_policy", "set lb_policy or load_balancing_policy, not both");
  else if (lb) d.lb_policy(lb, "lb_policy", out);
  else if (lbp) d.lb_policy(lbp, "load_balancing_policy", out);
  if (const YAML::Node n = route["ring_hash_lb_config"]) d.ring_hash(n, "ring_hash_lb_config", out);
  if (const YAML::Node n = route["maglev_lb_config"]) d.maglev(n, "maglev_lb_config", out);
  if (const YAML::Node n = route["hash_policy"]) d.hash_policy(n, "hash_policy", out);
  if (!out.hash_header.empty() && out.lb_policy != LbPolicy::ring_hash && out.lb_policy != LbPolicy::maglev)
    d.problem(route["hash_policy"], "hash_policy", "only ring_hash and maglev hash requests; ignored", true);
  if (const YAML::Node n = route["healthy_panic_threshold"]) d.panic_threshold(n, "healthy_panic_threshold", out);
  if (const YAML::Node n = route["common_lb_config"]) {
    if (!n.IsMap()) {
      d.problem(n, "common_lb_config", "expected a map such as {healthy_panic_threshold: {value: 50}}");
    } else {
      d.only(n, "common_lb_config", std::array<std::string_view, 1>{"healthy_panic_threshold"}, "common load balancing");
      if (n["healthy_panic_threshold"])
        d.panic_threshold(n["healthy_panic_threshold"], "common_lb_config.healthy_panic_threshold", out);
    }
  }
  if (const YAML::Node n = route["health_checks"]) {
    if (!n.IsSequence()) {
      d.problem(n, "health_checks", "expected a list of health checks");
    } else {
      std::size_t i = 0;
      for (const auto& hc : n) d.health_check(hc, "health_checks[" + std::to_string(i++) + "]", out.health_checks);
    }
  }
  if (const YAML::Node n = route["outlier_detection"]) d.outlier(n, "outlier_detection", out.outlier);
  if (target_count == 0 && (lb || lbp || route["health_checks"] || route["outlier_detection"]))
    d.problem(route, "to", "load balancing, health checks and outlier detection need upstream targets (to:)", true);
}

}  // namespace postern::config
