// Fuzz target: an incoming `traceparent` header (telemetry::parse_traceparent). Whatever the bytes, parsing ends;
// an accepted value has non-zero ids, and formatting what was read gives back the value's first 55 characters in
// version 00's form (a later version's extra fields are ignored).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "telemetry/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const auto tp = postern::telemetry::parse_traceparent(value);
  if (!tp) return 0;
  bool trace_zero = true, parent_zero = true;
  for (auto b : tp->trace_id) trace_zero = trace_zero && b == 0;
  for (auto b : tp->parent_id) parent_zero = parent_zero && b == 0;
  if (trace_zero || parent_zero) std::abort();
  char out[postern::telemetry::traceparent_size];
  postern::telemetry::format_traceparent(out, tp->trace_id, tp->parent_id, tp->sampled);
  // ids round-trip exactly
  if (std::string_view(out + 3, 49) != value.substr(3, 49)) std::abort();
  return 0;
}
