#include "ops/trace_exporter.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <algorithm>
#include <chrono>
#include <vector>

#include "version.h"
#include "net/asio_types.h"
#include "net/http_fetch.h"
#include "net/upstream_pool.h"
#include "net/watchdog.h"
#include "telemetry/log.h"

namespace postern::ops {
namespace asio = boost::asio;

namespace {
constexpr auto poll_interval = std::chrono::milliseconds(250);
constexpr auto export_interval = std::chrono::seconds(1);  // a batch waits at most this long (unless full)
constexpr auto max_backoff = std::chrono::seconds(30);
}  // namespace

struct TraceExporter::Runtime {
  net::IoContext io;
  net::Watchdog dog{io};
  net::UpstreamPool pool{io, dog};
  asio::ssl::context tls{asio::ssl::context::tls_client};
  Runtime() {
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
  }
};

TraceExporter::TraceExporter(config::TracingSettings settings)
    : settings_(std::move(settings)), runtime_(std::make_unique<Runtime>()) {}

TraceExporter::~TraceExporter() { stop(); }

void TraceExporter::submit(telemetry::SpanRecord span) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= max_queue) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(std::move(span));
}

void TraceExporter::start() {
  if (thread_.joinable()) return;
  auto& rt = *runtime_;
  rt.dog.start();
  asio::co_spawn(
      rt.io,
      [this]() -> net::Task<void> {
        auto& rt = *runtime_;
        auto last_export = std::chrono::steady_clock::now();
        auto backoff = std::chrono::milliseconds(0);
        bool warned = false;
        while (true) {
          const bool stopping = stopping_.load();
          std::vector<telemetry::SpanRecord> batch;
          {
            std::lock_guard lock(mutex_);
            const bool due = queue_.size() >= max_batch ||
                             std::chrono::steady_clock::now() - last_export >= export_interval + backoff || stopping;
            if (due && !queue_.empty()) {
              const std::size_t n = std::min(queue_.size(), max_batch);
              batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
              queue_.erase(queue_.begin(), queue_.begin() + n);
            }
          }
          if (!batch.empty()) {
            last_export = std::chrono::steady_clock::now();
            net::FetchRequest req;
            req.method = "POST";
            req.url = settings_.endpoint;
            req.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
            req.headers = settings_.headers;
            req.headers.emplace_back("Content-Type", "application/json");
            req.body = telemetry::encode_otlp_json(batch, "postern", POSTERN_VERSION);
            req.max_body = 64 * 1024;
            auto res = co_await net::fetch(rt.pool, rt.tls, std::move(req));
            const bool ok = res.ok() && res.status >= 200 && res.status < 300;
            if (ok) {
              exported_.fetch_add(batch.size(), std::memory_order_relaxed);
              backoff = std::chrono::milliseconds(0);
              warned = false;
            } else {
              failed_.fetch_add(1, std::memory_order_relaxed);
              const bool retry = !res.ok() || res.status == 429 || res.status == 502 || res.status == 503 ||
                                 res.status == 504;
              if (!warned)
                telemetry::log(telemetry::Level::warn, "trace export failed",
                               {{"endpoint", settings_.endpoint},
                                {"error", res.ok() ? "status " + std::to_string(res.status) : res.failure},
                                telemetry::boolean("retrying", retry && !stopping)});
              warned = true;
              if (retry && !stopping) {
                backoff = std::min<std::chrono::milliseconds>(
                    max_backoff, backoff.count() == 0 ? std::chrono::milliseconds(1000) : backoff * 2);
                std::lock_guard lock(mutex_);
                // Back to the front, as far as the bound allows; the rest is dropped and counted.
                const std::size_t room = max_queue > queue_.size() ? max_queue - queue_.size() : 0;
                const std::size_t keep = std::min(room, batch.size());
                dropped_.fetch_add(batch.size() - keep, std::memory_order_relaxed);
                queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                              std::make_move_iterator(batch.begin() + keep));
              } else {
                dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
              }
            }
            continue;  // more may be due at once
          }
          if (stopping) break;
          net::Timer t(rt.io.get_executor(), poll_interval);
          co_await t.async_wait(net::nothrow);
        }
        rt.pool.shutdown();
        rt.dog.stop();
      },
      asio::detached);
  thread_ = std::thread([&rt] { rt.io.run(); });
}

void TraceExporter::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;  // the loop exports what is queued once more and ends
  thread_.join();
  runtime_->io.shutdown_work();
}

}  // namespace postern::ops
