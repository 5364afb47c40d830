#include "ops/admin_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <list>
#include <stdexcept>

#include "core/base64.h"
#include "core/constant_time.h"
#include "core/strings.h"
#include "net/asio_types.h"
#include "net/listener.h"
#include "net/timeouts.h"
#include "telemetry/log.h"

namespace postern::ops {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::nothrow;
using TcpStream = beast::basic_stream<asio::ip::tcp, net::Executor>;

struct AdminServer::State {
  State(asio::io_context& io, net::Acceptor a, std::string w, AdminHandler h, std::shared_ptr<asio::ssl::context> t)
      : acceptor(std::move(a)), what(std::move(w)), handler(std::move(h)), tls(std::move(t)) {
    (void)io;
  }
  net::Acceptor acceptor;
  std::string what;
  AdminHandler handler;
  std::shared_ptr<asio::ssl::context> tls;
  std::list<TcpStream*> open;  // for stop(); control thread only
  bool stopped = false;
};

namespace {

http::response<http::string_body> answer(AdminServer* /*unused*/, const AdminHandler& handler,
                                         const http::request<http::empty_body>& req) {
  http::response<http::string_body> res;
  res.version(11);
  AdminResponse r;
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    r.status = 405;
    r.body = "Only GET and HEAD are served here.\n";
    r.headers.emplace_back("Allow", "GET, HEAD");
  } else {
    const auto auth = req.find(http::field::authorization);
    const std::string_view authorization =
        auth == req.end() ? std::string_view() : std::string_view(auth->value().data(), auth->value().size());
    r = handler(AdminRequest{req.method() == http::verb::head ? "HEAD" : "GET", path, authorization});
  }
  res.result(r.status);
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  for (const auto& [n, v] : r.headers) res.set(n, v);
  if (req.method() == http::verb::head) {
    res.content_length(r.body.size());
  } else {
    res.body() = std::move(r.body);
    res.prepare_payload();
  }
  return res;
}

template <class Stream>
net::Task<void> serve_requests(Stream& stream, TcpStream& tcp, const AdminHandler& handler) {
  beast::flat_buffer buffer(AdminServer::header_limit);
  for (int served = 0; served < 1000; ++served) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(AdminServer::header_limit);
    parser.body_limit(0);
    tcp.expires_after(served == 0 ? net::timeouts::admin_request : net::timeouts::admin_idle);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
    if (ec) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
        co_return;
      http::response<http::string_body> bad{ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                                            : http::status::bad_request,
                                            11};
      bad.set(http::field::content_type, "text/plain; charset=utf-8");
      bad.body() = "The request could not be read.\n";
      bad.keep_alive(false);
      bad.prepare_payload();
      tcp.expires_after(net::timeouts::admin_request);
      co_await http::async_write(stream, bad, nothrow);
      co_return;
    }
    const auto& req = parser.get();
    auto res = answer(nullptr, handler, req);
    res.keep_alive(req.keep_alive());
    tcp.expires_after(net::timeouts::admin_request);
    auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
    if (wec || !req.keep_alive()) co_return;
  }
}

net::Task<void> serve(std::shared_ptr<AdminServer::State> state, net::Socket socket) {
  TcpStream tcp(std::move(socket));
  auto it = state->open.insert(state->open.end(), &tcp);
  struct Unlist {
    AdminServer::State& s;
    std::list<TcpStream*>::iterator it;
    ~Unlist() { s.open.erase(it); }
  } unlist{*state, it};
  if (state->tls) {
    beast::ssl_stream<TcpStream&> tls(tcp, *state->tls);
    tcp.expires_after(net::timeouts::admin_request);
    auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, nothrow);
    if (hec) co_return;
    co_await serve_requests(tls, tcp, state->handler);
    tcp.expires_after(std::chrono::seconds(1));
    co_await tls.async_shutdown(nothrow);
  } else {
    co_await serve_requests(tcp, tcp, state->handler);
  }
  boost::system::error_code ec;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  tcp.close();
}

net::Task<void> accept_loop(std::shared_ptr<AdminServer::State> state) {
  while (!state->stopped) {
    auto [ec, socket] = co_await state->acceptor.async_accept(nothrow);
    if (ec) {
      if (state->stopped || !state->acceptor.is_open()) co_return;
      net::Timer pause(state->acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (state->open.size() >= AdminServer::max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);  // bounded: a scraper storm cannot hold the control thread's memory
      continue;
    }
    asio::co_spawn(state->acceptor.get_executor(), serve(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

AdminServer::AdminServer(asio::io_context& io, const config::ListenAddress& address, std::string what,
                         AdminHandler handler, std::shared_ptr<asio::ssl::context> tls)
    : what_(what) {
  std::optional<net::Acceptor> acceptor;
  try {
    acceptor.emplace(net::open_listener(io, address.host, address.port));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + address.to_string() + " (" + what + "): " + e.code().message());
  }
  port_ = acceptor->local_endpoint().port();
  state_ = std::make_shared<State>(io, std::move(*acceptor), std::move(what), std::move(handler), std::move(tls));
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() { asio::co_spawn(state_->acceptor.get_executor(), accept_loop(state_), asio::detached); }

void AdminServer::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  for (TcpStream* s : state_->open) s->socket().close(ec);
}

std::shared_ptr<asio::ssl::context> make_admin_tls(const std::string& cert_pem, const std::string& key_pem,
                                                   const std::string& client_ca_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
  if (ec) throw std::runtime_error("metrics_certificate: not a usable PEM certificate (" + ec.message() + ")");
  ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("metrics_certificate_key: not a usable PEM key for the certificate (" + ec.message() + ")");
  if (!client_ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(client_ca_pem), ec);
    if (ec) throw std::runtime_error("metrics_client_ca: not a usable PEM certificate (" + ec.message() + ")");
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

bool basic_auth_matches(std::string_view authorization, std::string_view expected) {
  if (authorization.size() < 6 || !core::iequals(authorization.substr(0, 6), "basic ")) return false;
  const auto decoded = core::base64_decode(core::trim(authorization.substr(6)));
  if (!decoded) return false;
  return core::constant_time_equal(*decoded, expected);
}

}  // namespace postern::ops
