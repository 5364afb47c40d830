#pragma once
// Every timeout Postern applies, with its name and default, in one place. Configurable ones take their value from
// the settings (named after the Pomerium key); the others are fixed here.
#include <chrono>

namespace postern::net::timeouts {

using namespace std::chrono_literals;

// Downstream (client side).
inline constexpr auto tls_handshake = 10s;        // accept → handshake done
// header read: `timeout_read` (default 30s) from the first byte of a request to the end of its header.
// keep-alive idle: `timeout_idle` (default 5m) waiting for the first byte of the next request.
// write: `timeout_write` when set, else `timeout_idle`, for each write to a client that stopped reading.
// body read: `timeout_idle` for each read of a request body.

// Upstream.
inline constexpr auto upstream_connect = 10s;     // DNS + TCP connect + TLS handshake (Envoy's connect_timeout)
inline constexpr auto upstream_keepalive = 60s;   // an idle pooled connection is closed after this
inline constexpr auto upstream_h2_write = 30s;    // one write to an HTTP/2 upstream connection (its streams' frames)
// response: the route's `timeout` (default `default_upstream_timeout`, 30s) from the end of the request to the end
// of the response; 0 turns it off. read idle: the route's `idle_timeout` (default 5m) for each upstream read.

// Process.
inline constexpr auto shutdown_grace = 10s;       // SIGTERM: in-flight requests get this long to finish
inline constexpr auto watchdog_tick = 250ms;      // granularity of every timeout above

// Operations listeners (metrics_address, health_check_addr).
inline constexpr auto admin_request = 10s;        // accept → request read, and each response write
inline constexpr auto admin_idle = 30s;           // keep-alive wait for the next scrape or probe
// Config reload.
inline constexpr auto reload_debounce = 200ms;    // a burst of file events becomes one reload

}  // namespace postern::net::timeouts
