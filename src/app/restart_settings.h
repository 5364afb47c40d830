#pragma once
// Settings a reload cannot apply while running: the listeners' addresses, the session store, the identity provider
// and the Okta directory (their clients and background threads are built once), the secrets and signing key (every
// session and cookie depends on them). A reload that changes one keeps the running value and says so.
#include <string>
#include <vector>

#include "config/settings.h"

namespace postern::app {

// Copies the running values of every restart-only setting into `next`; returns the names of those that differed
// (for the log), empty when none did. Secrets made up at startup (none configured) are carried over silently.
[[nodiscard]] std::vector<std::string> keep_restart_only_settings(const config::Settings& running,
                                                                  config::Settings& next);

}  // namespace postern::app
