#pragma once
// A JWS in compact serialization (a session's ID token) held as its three decoded segments: a quarter smaller than the
// base64url text (an Okta ID token: ~1.1 KiB → ~0.85 KiB), turned back into text only when it is sent (the IdP's
// end-session id_token_hint, a refresh's previous claims). Text that is not three base64url segments is kept as is.
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::session {

class CompactJws {
 public:
  CompactJws() = default;
  CompactJws(std::string_view compact) { assign(compact); }  // NOLINT: assigned from token text everywhere
  CompactJws& operator=(std::string_view compact) {
    assign(compact);
    return *this;
  }

  [[nodiscard]] std::string text() const;     // the compact serialization, as received
  [[nodiscard]] std::string payload() const;  // the decoded payload ("" when not a JWS)
  [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }
  [[nodiscard]] std::size_t heap_bytes() const noexcept { return bytes_.capacity(); }
  friend bool operator==(const CompactJws& a, const CompactJws& b) { return a.text() == b.text(); }

 private:
  void assign(std::string_view compact);
  std::string bytes_;          // the decoded segments back to back, or the text itself when verbatim
  std::uint32_t header_ = 0;   // decoded header length
  std::uint32_t payload_ = 0;  // decoded payload length
  bool verbatim_ = true;
};

}  // namespace postern::session
