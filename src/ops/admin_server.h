#pragma once
// A small HTTP/1.1 listener for operators: Prometheus' /metrics on `metrics_address`, the probes on
// `health_check_addr`. It runs on the control thread's io_context, never on a worker. Bounded: at most
// `max_connections` at once (more are closed at accept), GET/HEAD only, a request head of at most 8 KiB and no body,
// every read and write under a named timeout (net/timeouts.h: admin_request, admin_idle).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/settings.h"

namespace postern::ops {

struct AdminRequest {
  std::string_view method;
  std::string_view path;           // without the query
  std::string_view authorization;  // the Authorization header, or ""
};

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;

class AdminServer {
 public:
  static constexpr std::size_t max_connections = 64;
  static constexpr std::size_t header_limit = 8 * 1024;

  // Listens at once; throws std::runtime_error naming `what` (the config key) when it cannot. `tls` (optional)
  // serves https.
  AdminServer(boost::asio::io_context& io, const config::ListenAddress& address, std::string what,
              AdminHandler handler, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void start();
  void stop();  // closes the acceptor and every open connection
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::string& what() const noexcept { return what_; }

  struct State;  // defined in admin_server.cpp

 private:
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
  std::string what_;
};

// An https context for the metrics listener: the certificate and key (PEM); with `client_ca_pem`, scrapers must
// present a certificate issued by it. Throws std::runtime_error naming the problem.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_admin_tls(const std::string& cert_pem,
                                                                        const std::string& key_pem,
                                                                        const std::string& client_ca_pem);

// `Authorization: Basic …` against "user:password", compared in constant time.
[[nodiscard]] bool basic_auth_matches(std::string_view authorization, std::string_view expected_user_password);

}  // namespace postern::ops
