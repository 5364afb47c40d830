// Fuzz target: the configuration loader. Any byte string must load or fail with ConfigErrors naming a location;
// never crash, hang or throw anything else. A loaded config's routes always have a host and an upstream or none.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/loader.h"
#include "config/route_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto settings = postern::config::load_settings_from_text(text, "fuzz.yaml", postern::config::Environment());
    for (const auto& r : settings.routes)
      if (r.from_host.empty()) std::abort();
    postern::config::RouteTable table(settings.routes, settings.default_upstream_timeout);
    (void)table.match("a.example.com", 443, "/");
  } catch (const postern::config::ConfigErrors& e) {
    if (e.problems().empty()) std::abort();
  }
  return 0;
}
