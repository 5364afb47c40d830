#pragma once
// The state one downstream connection shares between the steps of a request, and the helpers that answer a request
// from Postern itself. Internal to the proxy module.
#include <boost/beast/core/flat_buffer.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "net/asio_types.h"
#include "net/stream.h"
#include "net/upstream_pool.h"
#include "proxy/head_buffer.h"
#include "proxy/http_types.h"
#include "proxy/upstream_response.h"
#include "net/client_certificate.h"
#include "proxy/worker_context.h"
#include "telemetry/trace.h"

namespace postern::proxy {

struct H2Stream;

using Clock = std::chrono::steady_clock;
inline constexpr std::size_t body_chunk = 64 * 1024;  // one relay buffer per direction: the bound on buffered bytes
static_assert(body_chunk == decltype(WorkerContext::relay_buffers)::size);

// A request id held inline (ids are at most 128 characters), so naming a request costs no allocation.
class RequestId {
 public:
  void assign(std::string_view id) noexcept {
    size_ = std::min(id.size(), sizeof data_);
    std::memcpy(data_, id.data(), size_);
  }
  void generate() noexcept {
    core::random_hex_id(data_);
    size_ = 32;
  }
  operator std::string_view() const noexcept { return {data_, size_}; }  // NOLINT: used as a string everywhere
  operator std::string() const { return {data_, size_}; }                // NOLINT

 private:
  char data_[128];
  std::size_t size_ = 0;
};

// How long one write to a client may take: timeout_write, or timeout_idle when that is 0 (off).
[[nodiscard]] inline Clock::duration write_timeout(const config::Settings& settings) {
  return settings.timeout_write.count() > 0 ? Clock::duration(settings.timeout_write)
                                            : Clock::duration(settings.timeout_idle);
}

// Per-request facts gathered before a response is chosen; also what the access log records.
struct Exchange {
  Clock::time_point start = Clock::now();
  RequestId request_id;
  // Views into the request being served (see handle_request): valid until it is logged.
  std::string_view method;
  std::string_view host;
  std::string_view path;  // without query
  std::string_view client_ip;  // the peer (the connection's), or an address from X-Forwarded-For (client_ip_text)
  std::string client_ip_text;
  std::string_view upstream;  // points into the config snapshot the connection holds
  std::string_view upstream_host;  // the target's authority (metrics), into the snapshot
  // Metrics labels: a configured host (the route's `from` host, the authenticate host), never the raw Host header.
  std::string_view metrics_host;
  bool answered_by_postern = false;  // Postern's own endpoint (service "authenticate" in the metrics)
  unsigned status = 0;
  unsigned upstream_status = 0;  // the upstream's answer, when one came
  Clock::time_point upstream_start{};
  // Tracing (a span sink is configured and this request is sampled): the ids, and what the spans say.
  bool traced = false;
  telemetry::TraceId trace_id{};
  telemetry::SpanId span_id{}, parent_id{}, upstream_span_id{};
  char traceparent[telemetry::traceparent_size]{};  // what the upstream receives
  std::string_view route;     // the matched route's `from`
  std::string_view decision;  // the policy's outcome
  std::int64_t start_unix_ns = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string_view protocol = "HTTP/1.1";  // how the client spoke (access log)
  bool json = false;
};

struct Connection {
  WorkerContext& worker;
  const Shared& shared;
  const config::Settings& settings;
  std::vector<upstream::Balancer>& balancers;  // this worker's, for `shared`
  net::Stream& stream;
  boost::beast::flat_buffer& buffer;
  std::string peer_ip;
  HeadBuffer head{};  // serialized message head, reused across requests
  // The current request's scratch: a relay buffer (taken on first use) and the header arena, both leased from the
  // worker's pools and returned when the request ends (see buffer_pool.h).
  decltype(WorkerContext::relay_buffers)::Lease relay{};
  std::pmr::memory_resource* arena = std::pmr::new_delete_resource();
  // The upstream response being relayed (kept here rather than in a coroutine frame: frames over 2 KiB are never
  // recycled by Asio and cost a malloc per request).
  std::optional<UpstreamResponseParser> response_parser{};
  Exchange exchange{};  // the request being served (see handle_request)
  net::UpstreamEndpoint endpoint{};  // where that request goes (see forward)
  std::shared_ptr<net::PeerCertificate> client_certificate{};  // downstream mTLS: what the client presented
  // An HTTP/2 stream (h2_session.h): the response goes to it and the request body comes from it, not `stream`.
  H2Stream* h2 = nullptr;

  char* relay_buffer() {
    if (!relay) relay = worker.relay_buffers.lease();
    return relay.chars();
  }
  [[nodiscard]] Clock::duration write_timeout() const { return proxy::write_timeout(settings); }
  [[nodiscard]] std::string_view scheme() const noexcept { return stream.is_tls() ? "https" : "http"; }
};

void log_exchange(WorkerContext& worker, const Exchange& ex);

// Serves one request whose head is in `parser` (http_session.cpp): the decisions, then the answer. For an HTTP/2
// stream (c.h2) the answer goes to the stream.
net::Task<void> serve_exchange(Connection& c, RequestParser& parser);


// Writes a response Postern made (adds the global headers and X-Request-Id). Returns false when the connection
// must close.
net::Task<bool> send_response(Connection& c, Exchange& ex, LocalResponse& res, bool keep_alive);

// An error or notice page (HTML, or JSON when the client prefers it), with an optional link forward.
net::Task<bool> send_local(Connection& c, Exchange& ex, unsigned status, std::string_view sentence, bool keep_alive,
                           std::string_view content_type = {}, std::string body = {});
net::Task<bool> send_page(Connection& c, Exchange& ex, unsigned status, std::string_view sentence, bool keep_alive,
                          std::string_view link_url, std::string_view link_text,
                          std::vector<std::string> set_cookies = {});

// 302 to `location` with the given Set-Cookie values.
net::Task<bool> send_redirect(Connection& c, Exchange& ex, std::string_view location, bool keep_alive,
                              std::vector<std::string> set_cookies = {});

}  // namespace postern::proxy
