#include "core/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/random.h"

namespace postern::core {
namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::string sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(), nullptr);
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), u8(data), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

std::string hkdf_sha256(std::string_view key, std::string_view info, std::size_t length) {
  std::string out(length, '\0');
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                  &EVP_PKEY_CTX_free);
  std::size_t out_len = length;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), u8(key), static_cast<int>(key.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), u8(info), static_cast<int>(info.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_len) <= 0) {
    std::abort();  // only fails on allocation failure or a broken OpenSSL
  }
  return out;
}

std::string aead_seal(std::string_view key, std::string_view plaintext, std::string_view aad) {
  const std::string nonce = random_bytes(nonce_size);
  std::string out(nonce_size + plaintext.size() + tag_size, '\0');
  std::memcpy(out.data(), nonce.data(), nonce_size);
  CipherCtx c;
  int len = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  if (!c.ctx || EVP_EncryptInit_ex(c.ctx, EVP_chacha20_poly1305(), nullptr, u8(key), u8(nonce)) != 1 ||
      EVP_EncryptUpdate(c.ctx, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(c.ctx, dst + nonce_size, &len, u8(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(c.ctx, dst + nonce_size + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_GET_TAG, tag_size, dst + nonce_size + plaintext.size()) != 1) {
    std::abort();
  }
  return out;
}

std::optional<std::string> aead_open(std::string_view key, std::string_view sealed, std::string_view aad) {
  if (key.size() != 32 || sealed.size() < nonce_size + tag_size) return std::nullopt;
  const std::size_t text_size = sealed.size() - nonce_size - tag_size;
  std::string out(text_size, '\0');
  CipherCtx c;
  int len = 0;
  std::string tag(sealed.substr(nonce_size + text_size));
  if (!c.ctx || EVP_DecryptInit_ex(c.ctx, EVP_chacha20_poly1305(), nullptr, u8(key), u8(sealed)) != 1 ||
      EVP_DecryptUpdate(c.ctx, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(out.data()), &len, u8(sealed.substr(nonce_size)),
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_SET_TAG, tag_size, tag.data()) != 1) {
    return std::nullopt;
  }
  if (EVP_DecryptFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1) return std::nullopt;
  return out;
}

}  // namespace postern::core
