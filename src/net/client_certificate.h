#pragma once
// Downstream mTLS: the client certificate a connection presented and whether it is valid. The TLS handshake asks
// for a certificate (advertising every configured CA) and, except in `reject_connection` mode, accepts whatever
// comes; validity is decided here, once per connection and trust store, so policy can treat "no certificate" and
// "an untrusted one" as Pomerium does (invalid_client_certificate, client_certificate, the 495 answer).
//
// A certificate is valid when it chains to the store's CA bundle (roots or intermediates as anchors), within
// max_verify_depth (Pomerium's: 1 = issued directly by a CA in the bundle; 0 = no limit), is not revoked by a CRL
// of the bundle (the leaf is checked), is within its validity dates, and, when match_subject_alt_names is set, has
// a SAN of a listed type matching its pattern.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/settings.h"

namespace re2 {
class RE2;
}

namespace postern::net {

// The facts policy and header templates read from a presented certificate.
struct PeerCertificate {
  PeerCertificate() = default;
  ~PeerCertificate();
  PeerCertificate(const PeerCertificate&) = delete;
  PeerCertificate& operator=(const PeerCertificate&) = delete;

  X509* leaf = nullptr;              // owned
  STACK_OF(X509)* chain = nullptr;   // owned: what the client sent beyond the leaf
  std::string fingerprint;           // SHA-256 of the DER, lower-case hex
  std::string spki_hash;             // SHA-256 of the SubjectPublicKeyInfo, base64
  std::vector<std::string> san_dns, san_email, san_uri, san_ip;
  // Validity per trust store, computed on first use (index 0: the global bundle; 1 + route index: a route's CA).
  std::vector<std::pair<std::size_t, bool>> verdicts;
};

// The certificate `ssl` received from its peer; null when none was presented.
[[nodiscard]] std::unique_ptr<PeerCertificate> read_peer_certificate(SSL* ssl);

// A trust store for client certificates: the CA bundle, its CRLs, the depth limit and the SAN rules.
class ClientCaStore {
 public:
  // Throws std::runtime_error naming what could not be loaded.
  ClientCaStore(const std::string& ca_pem, const std::string& crl_pem, std::uint32_t max_verify_depth,
                const std::vector<std::pair<std::string, std::string>>& match_subject_alt_names);
  ~ClientCaStore();
  ClientCaStore(const ClientCaStore&) = delete;
  ClientCaStore& operator=(const ClientCaStore&) = delete;

  // Thread-safe (the store is read-only once built).
  [[nodiscard]] bool verify(const PeerCertificate& cert) const;
  // The bundle's subject names, advertised in the handshake's CertificateRequest.
  [[nodiscard]] STACK_OF(X509_NAME)* subject_names() const;
  [[nodiscard]] X509_STORE* store() const noexcept { return store_; }

 private:
  X509_STORE* store_ = nullptr;
  std::vector<X509*> cas_;
  int depth_ = -1;  // OpenSSL's count of intermediates; -1 = no limit
  bool has_crl_ = false;
  std::vector<std::pair<std::string, std::unique_ptr<re2::RE2>>> san_rules_;
};

// How the server TLS contexts ask for client certificates, and what each route trusts.
struct DownstreamMtls {
  // Asked for in the handshake and advertised: downstream_mtls.ca plus every route's CA, as Pomerium does (in
  // reject_connection mode the handshake demands a certificate valid against it).
  std::shared_ptr<ClientCaStore> handshake;
  std::shared_ptr<ClientCaStore> global;  // downstream_mtls.ca alone (null without one)
  std::vector<std::shared_ptr<ClientCaStore>> per_route;  // by route index: tls_downstream_client_ca, else null
  config::DownstreamMtlsSettings::Enforcement enforcement =
      config::DownstreamMtlsSettings::Enforcement::policy_with_default_deny;
  [[nodiscard]] bool enabled() const noexcept { return handshake != nullptr; }
  // The store a request on route `route_index` is judged by: its own CA, else the global one; null when neither.
  [[nodiscard]] const ClientCaStore* store_for(std::size_t route_index) const noexcept {
    if (route_index < per_route.size() && per_route[route_index]) return per_route[route_index].get();
    return global.get();
  }
};

// Builds the stores from the settings; `enabled()` is false when no CA is configured anywhere.
[[nodiscard]] DownstreamMtls make_downstream_mtls(const config::Settings& settings);

// Whether `cert` is valid for route `route_index`: against the route's own CA when it has one, else the global
// bundle — never against another route's CA. Cached on the certificate. A route with no CA to judge by accepts
// any certificate (Pomerium's rule); callers ask client_certificate_required first.
[[nodiscard]] bool client_certificate_valid(const DownstreamMtls& mtls, PeerCertificate& cert, std::size_t route_index);
[[nodiscard]] inline bool client_certificate_required(const DownstreamMtls& mtls, std::size_t route_index) noexcept {
  return mtls.store_for(route_index) != nullptr;
}

}  // namespace postern::net
