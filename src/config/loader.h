#pragma once
// Loads Pomerium-format configuration: a YAML file overlaid with environment variables (each key's upper-case name;
// the environment wins). Decodes into `Settings`, checks every rule, and reports every problem at once.
#include <string>

#include "config/environment.h"
#include "config/settings.h"

namespace postern::config {

// Reads and decodes `path` ("" = environment only). Throws ConfigErrors listing every problem; on success, warnings
// (unknown keys, keys not supported yet) are in Settings::warnings.
[[nodiscard]] Settings load_settings(const std::string& path, const Environment& env);

// Same, from YAML text; `label` names the source in messages. For tests and for POLICY-style inline documents.
[[nodiscard]] Settings load_settings_from_text(const std::string& yaml_text, const std::string& label,
                                               const Environment& env);

}  // namespace postern::config
