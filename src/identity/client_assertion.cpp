#include "identity/client_assertion.h"

#include <cjose/cjose.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <vector>

#include "core/base64.h"
#include "core/random.h"
#include "core/strings.h"

namespace postern::identity {

struct ClientAssertionSigner::Key {
  cjose_jwk_t* jwk = nullptr;
  ~Key() { cjose_jwk_release(jwk); }
};

ClientAssertionSigner::ClientAssertionSigner() : key_(std::make_unique<Key>()) {}
ClientAssertionSigner::~ClientAssertionSigner() = default;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A big-number parameter of `pkey` as unsigned big-endian bytes (left-padded to `width` when given).
std::optional<std::string> bn_param(const EVP_PKEY* pkey, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(pkey, name, &bn)) return std::nullopt;
  const int n = width ? width : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  const bool ok = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n) == n;
  BN_clear_free(bn);
  if (!ok) return std::nullopt;
  return out;
}

uint8_t* bytes(std::string& s) { return reinterpret_cast<uint8_t*>(s.data()); }

// A cjose JWK from a PEM private key (RSA or EC P-256); sets `alg`.
std::variant<cjose_jwk_t*, std::string> from_pem(std::string_view pem, const char*& alg) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Pkey pkey(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!pkey) return std::string("private_key is not a PEM private key (nor a JWK)");
  cjose_err err{};
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    if (EVP_PKEY_get_bits(pkey.get()) < 2048) return std::string("private_key: an RSA key must have 2048 bits or more");
    auto n = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N), e = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E),
         d = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_D), p = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_FACTOR1),
         q = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_FACTOR2),
         dp = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1),
         dq = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2),
         qi = bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
    if (!n || !e || !d || !p || !q || !dp || !dq || !qi) return std::string("private_key: an incomplete RSA key");
    cjose_jwk_rsa_keyspec spec{bytes(*e), e->size(), bytes(*n), n->size(), bytes(*d), d->size(),
                               bytes(*p), p->size(), bytes(*q), q->size(), bytes(*dp), dp->size(),
                               bytes(*dq), dq->size(), bytes(*qi), qi->size()};
    cjose_jwk_t* jwk = cjose_jwk_create_RSA_spec(&spec, &err);
    OPENSSL_cleanse(d->data(), d->size());
    if (!jwk) return std::string("private_key: the RSA key could not be used");
    alg = CJOSE_HDR_ALG_RS256;
    return jwk;
  }
  if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    char group[64] = {};
    if (!EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr) ||
        (std::string_view(group) != "prime256v1" && std::string_view(group) != "P-256"))
      return std::string("private_key: an EC key must be on P-256 (ES256)");
    auto d = bn_param(pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, 32), x = bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32),
         y = bn_param(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    if (!d || !x || !y) return std::string("private_key: an incomplete EC key");
    cjose_jwk_ec_keyspec spec{};
    spec.crv = CJOSE_JWK_EC_P_256;
    spec.d = bytes(*d);
    spec.dlen = d->size();
    spec.x = bytes(*x);
    spec.xlen = x->size();
    spec.y = bytes(*y);
    spec.ylen = y->size();
    cjose_jwk_t* jwk = cjose_jwk_create_EC_spec(&spec, &err);
    OPENSSL_cleanse(d->data(), d->size());
    if (!jwk) return std::string("private_key: the EC key could not be used");
    alg = CJOSE_HDR_ALG_ES256;
    return jwk;
  }
  return std::string("private_key: only RSA (RS256) and EC P-256 (ES256) keys are supported");
}

}  // namespace

std::variant<std::unique_ptr<ClientAssertionSigner>, std::string> ClientAssertionSigner::load(std::string_view key,
                                                                                               std::string_view key_id) {
  std::unique_ptr<ClientAssertionSigner> s(new ClientAssertionSigner());
  const auto text = core::trim(key);
  cjose_err err{};
  if (text.starts_with('{')) {
    s->key_->jwk = cjose_jwk_import(text.data(), text.size(), &err);
    if (!s->key_->jwk) return std::string("private_key is not a valid JWK");
    const auto kty = cjose_jwk_get_kty(s->key_->jwk, &err);
    if (kty == CJOSE_JWK_KTY_RSA) {
      s->alg_ = CJOSE_HDR_ALG_RS256;
    } else if (kty == CJOSE_JWK_KTY_EC && cjose_jwk_EC_get_curve(s->key_->jwk, &err) == CJOSE_JWK_EC_P_256) {
      s->alg_ = CJOSE_HDR_ALG_ES256;
    } else {
      return std::string("private_key: only RSA (RS256) and EC P-256 (ES256) keys are supported");
    }
    // A JWK without the private part can verify but not sign.
    const std::string probe = s->assertion("probe", "https://probe.invalid/", std::chrono::system_clock::now());
    if (probe.empty()) return std::string("private_key: the JWK holds no private key");
    if (key_id.empty())
      if (const char* kid = cjose_jwk_get_kid(s->key_->jwk, &err)) s->kid_ = kid;
  } else {
    auto r = from_pem(text, s->alg_);
    if (auto* e = std::get_if<std::string>(&r)) return std::move(*e);
    s->key_->jwk = std::get<cjose_jwk_t*>(r);
  }
  if (!key_id.empty()) s->kid_ = std::string(key_id);
  return s;
}

std::string ClientAssertionSigner::assertion(std::string_view client_id, std::string_view token_endpoint,
                                             std::chrono::system_clock::time_point now) const {
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  boost::json::object claims{{"iss", client_id},
                             {"sub", client_id},
                             {"aud", token_endpoint},
                             {"iat", iat},
                             {"exp", iat + 300},
                             {"jti", core::base64url_encode(core::random_bytes(18))}};
  const std::string payload = boost::json::serialize(claims);
  cjose_err err{};
  cjose_header_t* header = cjose_header_new(&err);
  cjose_header_set(header, CJOSE_HDR_ALG, alg_, &err);
  if (!kid_.empty()) cjose_header_set(header, CJOSE_HDR_KID, kid_.c_str(), &err);
  cjose_header_set(header, "typ", "JWT", &err);
  cjose_jws_t* jws = cjose_jws_sign(key_->jwk, header, reinterpret_cast<const uint8_t*>(payload.data()),
                                    payload.size(), &err);
  cjose_header_release(header);
  std::string out;
  const char* compact = nullptr;
  if (jws && cjose_jws_export(jws, &compact, &err)) out = compact;
  cjose_jws_release(jws);
  return out;
}

}  // namespace postern::identity
