#pragma once
// `postern upstreams --config FILE`: every route's targets as the health checks see them right now. Each target is
// probed once by the route's own health checks (a TCP connection when it has none), all at once under their
// timeouts, and listed with its weight, the route's lb_policy and outlier settings. A running Postern logs the
// same facts as they change ("upstream health changed", "upstream ejected").
#include <iosfwd>

#include "config/settings.h"

namespace postern::app {

// Prints the report (text, or one JSON object per target with `json`). Returns 0 when every probed target is
// healthy, 2 when one is not.
int run_upstreams_report(const config::Settings& settings, bool json, std::ostream& out);

}  // namespace postern::app
