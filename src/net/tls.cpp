#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include "core/strings.h"
#include "net/client_certificate.h"

namespace postern::net {
namespace ssl = boost::asio::ssl;
namespace {

std::vector<std::string> certificate_names(const std::string& cert_pem) {
  std::vector<std::string> names;
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const auto* s = gn->d.dNSName;
        names.push_back(core::to_lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                   static_cast<std::size_t>(ASN1_STRING_length(s)))));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      names.push_back(core::to_lower(cn));
  }
  X509_free(cert);
  ERR_clear_error();
  return names;
}

bool name_matches(const std::string& pattern, const std::string& host) {
  if (pattern.starts_with("*.")) {
    const std::string_view suffix = std::string_view(pattern).substr(1);
    if (host.size() <= suffix.size() || !host.ends_with(suffix)) return false;
    return host.substr(0, host.size() - suffix.size()).find('.') == std::string::npos;  // one label only
  }
  return pattern == host;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void*) {
  // HTTP/2 first: a client offering both gets h2 (websockets still open their own HTTP/1.1 connection).
  static const unsigned char protocols[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, protocols, sizeof protocols, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

ServerTls::ServerTls(const std::vector<config::CertificatePair>& certificates) {
  if (certificates.empty()) throw std::runtime_error("no TLS certificate");
  for (const auto& pair : certificates) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    boost::system::error_code ec;
    ctx->use_certificate_chain(boost::asio::buffer(pair.cert_pem), ec);
    if (!ec) ctx->use_private_key(boost::asio::buffer(pair.key_pem), ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot use the certificate from " + pair.origin + ": " + ec.message());
    SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
    entries_.push_back({std::move(ctx), certificate_names(pair.cert_pem)});
  }
  for (auto& e : entries_) {
    SSL_CTX_set_tlsext_servername_callback(e.ctx->native_handle(),
                                           reinterpret_cast<int (*)(SSL*, int*, void*)>(&ServerTls::on_servername));
    SSL_CTX_set_tlsext_servername_arg(e.ctx->native_handle(), this);
  }
}

ServerTls::~ServerTls() = default;

int ServerTls::on_servername(void* ssl_ptr, int*, void* arg) {
  auto* ssl = static_cast<SSL*>(ssl_ptr);
  auto* self = static_cast<ServerTls*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  const std::string host = core::to_lower(name);
  const Entry* wildcard = nullptr;
  for (const auto& e : self->entries_) {
    for (const auto& n : e.names) {
      if (n == host) {
        SSL_set_SSL_CTX(ssl, e.ctx->native_handle());
        return SSL_TLSEXT_ERR_OK;
      }
      if (!wildcard && name_matches(n, host)) wildcard = &e;
    }
  }
  if (wildcard) SSL_set_SSL_CTX(ssl, wildcard->ctx->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

namespace {
// Policy decides about client certificates: the handshake takes any, or none.
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }
}  // namespace

void ServerTls::ask_client_certificates(const ClientCaStore& store, bool reject) {
  asks_client_certificates_ = true;
  for (auto& e : entries_) {
    SSL_CTX* ctx = e.ctx->native_handle();
    SSL_CTX_set1_cert_store(ctx, store.store());
    SSL_CTX_set_client_CA_list(ctx, store.subject_names());
    // Resumed sessions keep the peer's certificate; OpenSSL refuses to resume without an id context when it asks.
    static constexpr unsigned char id_context[] = "postern";
    SSL_CTX_set_session_id_context(ctx, id_context, sizeof id_context - 1);
    if (reject) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    else SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_certificate);
  }
}

config::CertificatePair ServerTls::self_signed(const std::string& common_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (!key || !cert) throw std::runtime_error("cannot generate a self-signed certificate: " + openssl_error());
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  const std::string san = "DNS:" + common_name + ",DNS:localhost,IP:127.0.0.1";
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  BIO* cb = BIO_new(BIO_s_mem());
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, cert);
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  auto drain = [](BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  };
  config::CertificatePair pair{drain(cb), drain(kb), "(self-signed)"};
  X509_free(cert);
  EVP_PKEY_free(key);
  return pair;
}

std::shared_ptr<ssl::context> make_client_tls(const ClientTlsOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!options.client_cert_pem.empty()) {
    ctx->use_certificate_chain(boost::asio::buffer(options.client_cert_pem), ec);
    if (!ec) ctx->use_private_key(boost::asio::buffer(options.client_key_pem), ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot use the upstream client certificate: " + ec.message());
  }
  if (options.skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  ctx->set_verify_mode(ssl::verify_peer);
  if (options.custom_ca_pem.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->add_certificate_authority(boost::asio::buffer(options.custom_ca_pem), ec);
    if (ec) throw std::runtime_error("cannot load the custom CA: " + ec.message());
  }
  return ctx;
}

std::shared_ptr<ssl::context> make_route_client_tls(const config::RouteSettings& route) {
  for (const auto& t : route.to)
    if (t.tls())
      return make_client_tls({route.tls_skip_verify, route.tls_custom_ca_pem, route.tls_client_cert_pem,
                              route.tls_client_key_pem});
  return nullptr;
}

}  // namespace postern::net
