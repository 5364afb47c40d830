#include "identity/assertion_signer.h"

#include <cjose/header.h>
#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "core/base64.h"
#include "core/crypto.h"

namespace postern::identity {
namespace {

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

std::string bn_bytes(const BIGNUM* bn, int width) {
  std::string out(static_cast<std::size_t>(width), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width);
  return out;
}

// The private scalar: from the PEM key, or derived from the shared secret (retrying until it is in [1, n-1]).
Bn private_scalar(std::string_view pem, std::string_view shared_secret, const EC_GROUP* group) {
  if (!pem.empty()) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    BIGNUM* d = nullptr;
    if (!pkey || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
      EVP_PKEY_free(pkey);
      ERR_clear_error();
      throw std::runtime_error("signing_key: cannot read the EC private key");
    }
    EVP_PKEY_free(pkey);
    return Bn(d);
  }
  const BIGNUM* order = EC_GROUP_get0_order(group);
  for (int counter = 0;; ++counter) {
    const std::string bytes =
        core::hkdf_sha256(shared_secret, "postern jwt signing key v1 " + std::to_string(counter), 32);
    Bn d(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), 32, nullptr));
    if (!BN_is_zero(d.get()) && BN_cmp(d.get(), order) < 0) return d;
  }
}

}  // namespace

struct AssertionSigner::Key {
  cjose_jwk_t* jwk = nullptr;
  ~Key() { cjose_jwk_release(jwk); }
};

AssertionSigner::AssertionSigner(std::string_view signing_key_pem, std::string_view shared_secret)
    : key_(std::make_unique<Key>()) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  BN_CTX* ctx = BN_CTX_new();
  Bn d = private_scalar(signing_key_pem, shared_secret, group);
  EC_POINT* pub = EC_POINT_new(group);
  Bn x(BN_new()), y(BN_new());
  if (!EC_POINT_mul(group, pub, d.get(), nullptr, nullptr, ctx) ||
      !EC_POINT_get_affine_coordinates(group, pub, x.get(), y.get(), ctx)) {
    throw std::runtime_error("cannot compute the signing key's public point");
  }
  const std::string xb = bn_bytes(x.get(), 32), yb = bn_bytes(y.get(), 32), db = bn_bytes(d.get(), 32);
  EC_POINT_free(pub);
  BN_CTX_free(ctx);
  EC_GROUP_free(group);

  cjose_jwk_ec_keyspec spec{};
  spec.crv = CJOSE_JWK_EC_P_256;
  spec.d = reinterpret_cast<uint8_t*>(const_cast<char*>(db.data()));
  spec.dlen = db.size();
  spec.x = reinterpret_cast<uint8_t*>(const_cast<char*>(xb.data()));
  spec.xlen = xb.size();
  spec.y = reinterpret_cast<uint8_t*>(const_cast<char*>(yb.data()));
  spec.ylen = yb.size();
  cjose_err err{};
  key_->jwk = cjose_jwk_create_EC_spec(&spec, &err);
  if (!key_->jwk) throw std::runtime_error("cannot create the signing JWK");

  const std::string x64 = core::base64url_encode(xb), y64 = core::base64url_encode(yb);
  // RFC 7638: the required members, lexicographic order, no whitespace.
  kid_ = core::base64url_encode(
      core::sha256("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + x64 + "\",\"y\":\"" + y64 + "\"}"));
  cjose_jwk_set_kid(key_->jwk, kid_.data(), kid_.size(), &err);
  jwks_ = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" + x64 + "\",\"y\":\"" + y64 + "\",\"kid\":\"" + kid_ +
          "\",\"alg\":\"ES256\",\"use\":\"sig\"}]}";
}

AssertionSigner::~AssertionSigner() = default;

std::string AssertionSigner::sign(std::string_view claims_json) const {
  cjose_err err{};
  cjose_header_t* header = cjose_header_new(&err);
  cjose_header_set(header, CJOSE_HDR_ALG, CJOSE_HDR_ALG_ES256, &err);
  cjose_header_set(header, CJOSE_HDR_KID, kid_.c_str(), &err);
  cjose_header_set(header, "typ", "JWT", &err);
  cjose_jws_t* jws = cjose_jws_sign(key_->jwk, header, reinterpret_cast<const uint8_t*>(claims_json.data()),
                                    claims_json.size(), &err);
  cjose_header_release(header);
  if (!jws) return {};
  const char* compact = nullptr;
  std::string out;
  if (cjose_jws_export(jws, &compact, &err)) out = compact;
  cjose_jws_release(jws);
  return out;
}

}  // namespace postern::identity
