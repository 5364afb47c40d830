#include "net/upstream_pool.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/timeouts.h"

namespace postern::net {
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;


std::unique_ptr<UpstreamConnection> UpstreamPool::take_idle(const UpstreamEndpoint& endpoint) {
  if (endpoint.pool_key == 0) return nullptr;
  auto it = idle_.find(endpoint.pool_key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  while (!list.empty()) {
    auto conn = std::move(list.back());
    list.pop_back();
    held_.store(held_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    if (!conn->stream.is_open()) continue;  // expired or closed while idle
    conn->stream.set_idle(false);
    conn->reused = true;
    return conn;
  }
  return nullptr;
}

Task<AcquireResult> UpstreamPool::acquire(const UpstreamEndpoint& endpoint, bool fresh) {
  AcquireResult result;
  const std::uint64_t key = endpoint.pool_key;
  if (!fresh) {
    if (auto conn = take_idle(endpoint)) {
      result.connection = std::move(conn);
      co_return result;
    }
  }

  const auto& target = *endpoint.target;
  const auto deadline = Watched::clock::now() + timeouts::upstream_connect;

  // Resolve: IP literals directly, names through the resolver, raced against the connect deadline.
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(target.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, target.port);
  } else {
    auto lookup = co_await resolver_.resolve(target.host, target.port, deadline);
    if (lookup.error) {
      result.failure = "dns";
      count(failed_);
      result.timed_out = lookup.error == asio::error::timed_out;
      result.error = lookup.error;
      co_return result;
    }
    endpoints = std::move(lookup.endpoints);
  }

  std::unique_ptr<UpstreamConnection> conn =
      endpoint.tls ? std::make_unique<UpstreamConnection>(dog_, Socket(io_.get_executor()), *endpoint.tls)
                   : std::make_unique<UpstreamConnection>(dog_, Socket(io_.get_executor()));
  conn->key = key;
  conn->stream.expire_at(deadline, "upstream connect");
  auto [cec, connected] = co_await asio::async_connect(conn->stream.tcp(), endpoints, nothrow);
  if (cec) {
    result.failure = "connect";
    count(failed_);
    result.timed_out = conn->stream.expired_by() != nullptr;
    result.error = cec;
    co_return result;
  }
  conn->stream.tcp().set_option(tcp::no_delay(true), ec);

  if (endpoint.tls) {
    auto* tls = conn->stream.tls();
    const std::string& name = endpoint.server_name.empty() ? target.host : endpoint.server_name;
    boost::system::error_code ip_ec;
    asio::ip::make_address(name, ip_ec);
    if (ip_ec) SSL_set_tlsext_host_name(tls->native_handle(), name.c_str());  // SNI only for names
    tls->set_verify_callback(asio::ssl::host_name_verification(name));
    static constexpr unsigned char h2_first[] = "\x02h2\x08http/1.1";
    static constexpr unsigned char http1_only[] = "\x08http/1.1";
    if (endpoint.offer_h2) SSL_set_alpn_protos(tls->native_handle(), h2_first, sizeof h2_first - 1);
    else SSL_set_alpn_protos(tls->native_handle(), http1_only, sizeof http1_only - 1);
    auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client, nothrow);
    if (hec) {
      result.failure = "tls";
      count(failed_);
      result.timed_out = conn->stream.expired_by() != nullptr;
      result.error = hec;
      co_return result;
    }
    const unsigned char* chosen = nullptr;
    unsigned chosen_size = 0;
    SSL_get0_alpn_selected(tls->native_handle(), &chosen, &chosen_size);
    conn->h2 = chosen_size == 2 && chosen[0] == 'h' && chosen[1] == '2';
  }
  conn->stream.expire_never();
  count(opened_);
  result.connection = std::move(conn);
  co_return result;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
  if (!connection || !connection->stream.is_open() || connection->key == 0 || connection->h2) return;
  // Bytes past the response it just finished were never asked for: reading them as the answer to the next request
  // would hand one client another's response. Such a connection is closed, never reused.
  if (connection->buffer.size() > 0) return;
  auto& list = idle_[connection->key];
  if (list.size() >= max_idle_per_key) return;  // dropping it closes it
  connection->stream.set_idle(true);
  connection->stream.expire_after(timeouts::upstream_keepalive, "upstream keep-alive");
  // Closed-while-idle entries are skipped (and freed) on the next acquire for this key.
  list.push_back(std::move(connection));
  held_.store(held_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void UpstreamPool::clear() {
  idle_.clear();
  held_.store(0, std::memory_order_relaxed);
}

}  // namespace postern::net
