#include "identity/hpke_key.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

#include "core/crypto.h"

namespace postern::identity {

std::string hpke_public_key(std::string_view shared_secret) {
  const std::string secret = core::hkdf_sha256(shared_secret, "postern hpke x25519 key", 32);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, reinterpret_cast<const unsigned char*>(secret.data()),
                                   secret.size()),
      &EVP_PKEY_free);
  std::string out(32, '\0');
  std::size_t len = out.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != 32)
    throw std::runtime_error("cannot derive the HPKE key");
  return out;
}

}  // namespace postern::identity
