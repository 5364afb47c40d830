// Fuzz target: ID token validation against a fixed provider key. Arbitrary input must be rejected cleanly: no
// crash, no acceptance (nothing random is signed by the key).
#include <cjose/jwk.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "authn/id_token.h"

namespace {
struct Fixture {
  Fixture() {
    static const uint8_t e[] = {0x01, 0x00, 0x01};
    cjose_err err{};
    cjose_jwk_t* key = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    cjose_jwk_set_kid(key, "k1", 2, &err);
    char* pub = cjose_jwk_to_json(key, false, &err);
    keys.push_back({"k1", "RSA", "", "", pub});
    free(pub);
    cjose_jwk_release(key);
    metadata.issuer = "https://idp.example.com";
    metadata.id_token_signing_alg_values_supported = {"RS256", "ES256"};
  }
  postern::authn::ProviderMetadata metadata;
  std::vector<postern::authn::Jwk> keys;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture f;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto check = postern::authn::validate_id_token(input, f.metadata, f.keys, "client", "nonce", 1'800'000'000);
  if (check.ok) std::abort();
  return 0;
}
