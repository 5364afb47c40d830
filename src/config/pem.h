#pragma once
// Checks of PEM material at load time, so a bad certificate is a config error naming its key, not a runtime failure.
#include <optional>
#include <string>

namespace postern::config {

// nullopt when `cert_pem` holds at least one certificate, `key_pem` a private key, and the key matches the first
// certificate; otherwise a sentence saying what is wrong.
[[nodiscard]] std::optional<std::string> check_certificate_pair(const std::string& cert_pem, const std::string& key_pem);
// nullopt when `pem` holds an EC P-256 private key (what ES256 needs).
[[nodiscard]] std::optional<std::string> check_ec_p256_key(const std::string& pem);
// nullopt when `pem` holds at least one certificate.
[[nodiscard]] std::optional<std::string> check_ca_bundle(const std::string& pem);
// nullopt when `pem` holds at least one certificate revocation list (X509 CRL) and nothing unreadable.
[[nodiscard]] std::optional<std::string> check_crl_bundle(const std::string& pem);

}  // namespace postern::config
