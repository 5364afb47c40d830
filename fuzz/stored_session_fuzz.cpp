// Fuzz target: a session record as the PostgreSQL store reads it back (session_codec.h). The plaintext decoder gets
// arbitrary bytes (what a record would hold if the sealing key leaked and someone wrote rows); the sealed opener must
// refuse anything not sealed with our key. Neither may crash or hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "store/session_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string key = postern::store::session_sealing_key(std::string(32, 'k'));
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (auto s = postern::store::decode_session(input)) {
    if (s->id.empty()) std::abort();
    // What decodes re-encodes to something that decodes the same.
    auto again = postern::store::decode_session(postern::store::encode_session(*s));
    if (!again || again->id != s->id || again->version != s->version || again->extra_claims != s->extra_claims)
      std::abort();
  }
  if (postern::store::open_session(input, "sid", key)) std::abort();
  return 0;
}
