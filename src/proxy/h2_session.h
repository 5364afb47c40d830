#pragma once
// A downstream HTTP/2 connection (ALPN h2 on TLS, prior-knowledge h2c on plain listeners). The framing is
// http2::ServerSession's; each stream is an exchange through the same decisions as an HTTP/1.1 request: its head is
// rebuilt as the request Beast would have parsed (method, :path as target, :authority as Host, the fields; Content-
// Length or chunked framing for a body) and served by serve_exchange with a Connection of its own whose `h2` points
// at the stream, so the few places that write to the client or read its body (send_response, deliver_response,
// send_with_body) go through the stream instead of the socket. Internal to the proxy module.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http2/field.h"
#include "net/asio_types.h"
#include "net/client_certificate.h"
#include "net/stream.h"
#include "proxy/worker_context.h"

namespace postern::proxy {

// Serves `stream` as HTTP/2 until the client leaves, an idle timeout, a protocol error or the worker drains.
// `preread` holds bytes already read from the client (the preface of h2c prior knowledge).
net::Task<void> serve_h2_connection(WorkerContext& worker, net::Stream& stream, std::shared_ptr<const Shared> shared,
                                    std::shared_ptr<std::vector<upstream::Balancer>> balancers, std::string peer_ip,
                                    std::shared_ptr<net::PeerCertificate> client_certificate, std::string preread);

// True when `bytes` (the first a plain-text client sent) are the start of the HTTP/2 connection preface.
[[nodiscard]] bool starts_h2_preface(std::string_view bytes);

// One stream, as the exchange code sees it (defined in h2_session.cpp).
struct H2Stream;

// The response head: `status` and its fields (names lower case). Connection-specific fields and framing
// (Transfer-Encoding) are dropped by ServerSession::respond — HTTP/2 frames the body itself.
void h2_respond(H2Stream& s, unsigned status, std::vector<http2::Field> fields, bool has_body);
// Sends body bytes, waiting (at most `timeout` each time) while the stream's buffer is full. False: the stream is
// gone (client reset, connection closed) or the client did not open its window in time (the stream is reset).
net::Task<bool> h2_write_body(H2Stream& s, std::string_view bytes, std::chrono::steady_clock::duration timeout);
void h2_end_body(H2Stream& s, std::span<const http2::Field> trailers = {});
// The rest of the request body is not wanted (the response ended first): a reader waiting in h2_read_body returns
// false, and the client's window reopens by itself.
void h2_discard_body(H2Stream& s);
// The stream is gone (reset by the client, or its connection ended).
[[nodiscard]] bool h2_closed(const H2Stream& s);
// Calls `f` when the stream closes (an exchange relaying from an upstream stream wakes up to cancel it).
void h2_on_close(H2Stream& s, std::function<void()> f);
void h2_reset(H2Stream& s, std::uint32_t error_code);
// Waits for request body bytes (appended to `out`) or its end. False: the stream is gone, or nothing came within
// `timeout`. Each byte taken is reported consumed, so the client may send more.
net::Task<bool> h2_read_body(H2Stream& s, std::string& out, bool& end, std::chrono::steady_clock::duration timeout);

}  // namespace postern::proxy
