#include "config/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include <memory>

namespace postern::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> memory_bio(const std::string& s) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

}  // namespace

std::optional<std::string> check_certificate_pair(const std::string& cert_pem, const std::string& key_pem) {
  auto cert_bio = memory_bio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) return "no PEM certificate found";
  auto key_bio = memory_bio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return "no PEM private key found (encrypted keys are not supported)";
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return "the private key does not match the certificate";
  }
  return std::nullopt;
}

std::optional<std::string> check_ec_p256_key(const std::string& pem) {
  auto bio = memory_bio(pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return "expected a PEM private key (or base64 of one)";
  if (!EVP_PKEY_is_a(key.get(), "EC")) return "expected an EC P-256 key for ES256 (RSA signing keys are not supported yet)";
  char curve[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key.get(), "group", curve, sizeof curve, &len) != 1 ||
      (std::string(curve) != "prime256v1" && std::string(curve) != "P-256"))
    return "expected an EC key on the P-256 curve";
  return std::nullopt;
}

std::optional<std::string> check_ca_bundle(const std::string& pem) {
  auto bio = memory_bio(pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) return "no PEM certificate found";
  return std::nullopt;
}

std::optional<std::string> check_crl_bundle(const std::string& pem) {
  auto bio = memory_bio(pem);
  int count = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    X509_CRL_free(crl);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) return "no PEM certificate revocation list (X509 CRL) found";
  return std::nullopt;
}

}  // namespace postern::config
