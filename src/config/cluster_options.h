#pragma once
// A route's Envoy cluster options as Pomerium reads them: lb_policy / load_balancing_policy (with Envoy's upper-case
// spellings), ring_hash_lb_config, maglev_lb_config, hash_policy (header), health_checks, outlier_detection and
// healthy_panic_threshold. Decoded from the route's YAML into `UpstreamOptions`; problems carry the node's line, as
// the policy parser's do. Envoy cluster fields Postern does not implement are warnings that name them.
#include <string>
#include <vector>

#include "authz/policy_parser.h"
#include "config/settings.h"

namespace YAML {
class Node;
}

namespace postern::config {

using OptionProblem = authz::ParseProblem;

// Reads the cluster keys of one route (`route` is its YAML map; `prefix` is "routes[2]." for messages).
void decode_cluster_options(const YAML::Node& route, const std::string& prefix, std::size_t target_count,
                            UpstreamOptions& out, std::vector<OptionProblem>& problems);

// True for the route keys decode_cluster_options reads (the loader's key check skips them).
[[nodiscard]] bool is_cluster_option(std::string_view key) noexcept;
// True for Envoy Cluster fields Postern does not implement (a route carrying one gets a warning that names it).
[[nodiscard]] bool is_unimplemented_cluster_field(std::string_view key) noexcept;

}  // namespace postern::config
