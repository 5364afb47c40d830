#pragma once
// One immutable configuration as the data plane sees it: settings plus compiled routes. Built and validated off the
// hot path, then published as std::shared_ptr<const Snapshot>; a request holds the snapshot it started with.
#include <memory>

#include "config/route_table.h"
#include "config/settings.h"

namespace postern::config {

struct Snapshot {
  explicit Snapshot(Settings s) : settings(std::move(s)), routes(settings.routes, settings.default_upstream_timeout) {}
  Settings settings;
  RouteTable routes;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace postern::config
