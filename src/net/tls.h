#pragma once
// TLS contexts. Server side: one context per configured certificate, the right one picked by SNI (exact name, then
// wildcard, else the first), TLS 1.2+, ALPN http/1.1. Client side (to upstreams): verification against the system
// roots or a route's custom CA instead, or none with tls_skip_verify; a client certificate when configured.
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.h"

namespace postern::net {

class ServerTls {
 public:
  // Throws std::runtime_error with a readable message when a certificate cannot be used.
  explicit ServerTls(const std::vector<config::CertificatePair>& certificates);
  ~ServerTls();
  // The context new connections start with; SNI may switch it.
  [[nodiscard]] boost::asio::ssl::context& default_context() noexcept { return *entries_.front().ctx; }
  // Downstream mTLS: every context asks for a client certificate, advertising `store`'s CAs. With `reject`, the
  // handshake fails without a certificate that verifies against it; otherwise any certificate (or none) is
  // accepted and policy decides (net/client_certificate.h).
  void ask_client_certificates(const class ClientCaStore& store, bool reject);
  [[nodiscard]] bool asks_client_certificates() const noexcept { return asks_client_certificates_; }
  // A self-signed certificate for when none is configured (Pomerium does the same), valid for a year.
  [[nodiscard]] static config::CertificatePair self_signed(const std::string& common_name);

 private:
  struct Entry {
    std::unique_ptr<boost::asio::ssl::context> ctx;
    std::vector<std::string> names;  // DNS SANs (or CN), lower case; may start with "*."
  };
  static int on_servername(void* ssl, int* alert, void* arg);
  std::vector<Entry> entries_;
  bool asks_client_certificates_ = false;
};

struct ClientTlsOptions {
  bool skip_verify = false;
  std::string custom_ca_pem;  // when set, the only roots trusted (it replaces the system's, as in Pomerium)
  std::string client_cert_pem, client_key_pem;  // presented when the upstream asks (tls_client_cert)
};

// Builds a client context. Throws std::runtime_error if the CA bundle cannot be loaded.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_client_tls(const ClientTlsOptions& options);
// The client context a route's https targets are reached with (its tls_* keys); null when it has none.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_route_client_tls(const config::RouteSettings& route);

}  // namespace postern::net
