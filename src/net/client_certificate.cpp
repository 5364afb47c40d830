#include "net/client_certificate.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <re2/re2.h>

#include <arpa/inet.h>

#include <stdexcept>

#include "core/base64.h"
#include "core/crypto.h"

namespace postern::net {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const ASN1_OCTET_STRING* s) {
  const unsigned char* p = ASN1_STRING_get0_data(s);
  const int n = ASN1_STRING_length(s);
  char buf[INET6_ADDRSTRLEN] = {};
  if ((n == 4 && inet_ntop(AF_INET, p, buf, sizeof buf)) || (n == 16 && inet_ntop(AF_INET6, p, buf, sizeof buf)))
    return buf;  // the shortest form (2001:db8::1), as Go prints it
  return {};
}

std::vector<X509*> read_certificates(const std::string& pem) {
  std::vector<X509*> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(cert);
  BIO_free(bio);
  ERR_clear_error();
  return out;
}

}  // namespace

PeerCertificate::~PeerCertificate() {
  if (leaf) X509_free(leaf);
  if (chain) sk_X509_pop_free(chain, X509_free);
}

std::unique_ptr<PeerCertificate> read_peer_certificate(SSL* ssl) {
  X509* leaf = SSL_get1_peer_certificate(ssl);
  if (!leaf) return nullptr;
  auto cert = std::make_unique<PeerCertificate>();
  cert->leaf = leaf;
  if (STACK_OF(X509)* sent = SSL_get_peer_cert_chain(ssl)) cert->chain = X509_chain_up_ref(sent);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(leaf, EVP_sha256(), digest, &len) == 1) cert->fingerprint = hex(digest, len);
  unsigned char* spki = nullptr;
  const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &spki);
  if (spki_len > 0) {
    cert->spki_hash = core::base64_encode(core::sha256(std::string_view(reinterpret_cast<char*>(spki), spki_len)));
    OPENSSL_free(spki);
  }
  if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      switch (gn->type) {
        case GEN_DNS: cert->san_dns.push_back(asn1_text(gn->d.dNSName)); break;
        case GEN_EMAIL: cert->san_email.push_back(asn1_text(gn->d.rfc822Name)); break;
        case GEN_URI: cert->san_uri.push_back(asn1_text(gn->d.uniformResourceIdentifier)); break;
        case GEN_IPADD: cert->san_ip.push_back(ip_text(gn->d.iPAddress)); break;
        default: break;
      }
    }
    GENERAL_NAMES_free(sans);
  }
  ERR_clear_error();
  return cert;
}

ClientCaStore::ClientCaStore(const std::string& ca_pem, const std::string& crl_pem, std::uint32_t max_verify_depth,
                             const std::vector<std::pair<std::string, std::string>>& match_subject_alt_names)
    : store_(X509_STORE_new()) {
  cas_ = read_certificates(ca_pem);
  if (cas_.empty()) throw std::runtime_error("the client CA bundle holds no certificate");
  for (X509* ca : cas_) X509_STORE_add_cert(store_, ca);
  if (!crl_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size()));
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_crl(store_, crl);
      X509_CRL_free(crl);
      has_crl_ = true;
    }
    BIO_free(bio);
  }
  ERR_clear_error();
  // Intermediates in the bundle are anchors too (Pomerium's documented behaviour). With CRLs, every certificate of
  // the chain is checked against its issuer's CRL when the bundle holds one; an issuer without a CRL is not an
  // error (a route CA without a CRL must not fail because the global CA has one).
  unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
  if (has_crl_) {
    flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    X509_STORE_set_verify_cb(store_, [](int ok, X509_STORE_CTX* ctx) {
      return ok || X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL ? 1 : 0;
    });
  }
  X509_STORE_set_flags(store_, flags);
  // Pomerium counts the leaf: depth 1 = issued directly by a CA in the bundle. OpenSSL counts intermediates only.
  depth_ = max_verify_depth == 0 ? -1 : static_cast<int>(max_verify_depth) - 1;
  if (depth_ >= 0) X509_STORE_set_depth(store_, depth_);
  for (const auto& [type, pattern] : match_subject_alt_names) {
    auto re = std::make_unique<re2::RE2>("^(?:" + pattern + ")$", re2::RE2::Quiet);
    if (!re->ok()) throw std::runtime_error("match_subject_alt_names: invalid pattern for " + type);
    san_rules_.emplace_back(type, std::move(re));
  }
}

ClientCaStore::~ClientCaStore() {
  X509_STORE_free(store_);
  for (X509* ca : cas_) X509_free(ca);
}

bool ClientCaStore::verify(const PeerCertificate& cert) const {
  if (!cert.leaf) return false;
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  if (!ctx) return false;
  bool ok = false;
  if (X509_STORE_CTX_init(ctx, store_, cert.leaf, cert.chain) == 1) {
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    if (depth_ >= 0) X509_STORE_CTX_set_depth(ctx, depth_);
    ok = X509_verify_cert(ctx) == 1;
  }
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  if (!ok || san_rules_.empty()) return ok;
  for (const auto& [type, re] : san_rules_) {
    const std::vector<std::string>* values = type == "dns"     ? &cert.san_dns
                                             : type == "email" ? &cert.san_email
                                             : type == "uri"   ? &cert.san_uri
                                             : type == "ip_address" ? &cert.san_ip
                                                                    : nullptr;
    if (!values) continue;  // user_principal_name: an otherName Postern does not read; never matches
    for (const auto& v : *values)
      if (re2::RE2::FullMatch(v, *re)) return true;
  }
  return false;
}

STACK_OF(X509_NAME)* ClientCaStore::subject_names() const {
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  for (X509* ca : cas_) sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
  return names;
}

DownstreamMtls make_downstream_mtls(const config::Settings& settings) {
  DownstreamMtls out;
  const auto& m = settings.downstream_mtls;
  std::string bundle = m.ca_pem;
  for (const auto& r : settings.routes)
    if (!r.tls_downstream_client_ca_pem.empty()) bundle += "\n" + r.tls_downstream_client_ca_pem;
  if (bundle.find("-----BEGIN") == std::string::npos) return out;
  out.enforcement = m.enforcement;
  out.handshake = std::make_shared<ClientCaStore>(bundle, m.crl_pem, m.max_verify_depth, m.match_subject_alt_names);
  if (m.configured())
    out.global = std::make_shared<ClientCaStore>(m.ca_pem, m.crl_pem, m.max_verify_depth, m.match_subject_alt_names);
  out.per_route.resize(settings.routes.size());
  for (std::size_t i = 0; i < settings.routes.size(); ++i) {
    const auto& r = settings.routes[i];
    if (!r.tls_downstream_client_ca_pem.empty())
      out.per_route[i] = std::make_shared<ClientCaStore>(r.tls_downstream_client_ca_pem, m.crl_pem, m.max_verify_depth,
                                                         m.match_subject_alt_names);
  }
  return out;
}

bool client_certificate_valid(const DownstreamMtls& mtls, PeerCertificate& cert, std::size_t route_index) {
  const ClientCaStore* store = mtls.store_for(route_index);
  if (!store) return true;
  const std::size_t key = store == mtls.global.get() ? 0 : route_index + 1;
  for (const auto& [k, v] : cert.verdicts)
    if (k == key) return v;
  const bool ok = store->verify(cert);
  if (cert.verdicts.size() < 16) cert.verdicts.emplace_back(key, ok);
  return ok;
}

}  // namespace postern::net
