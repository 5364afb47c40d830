#pragma once
// OpenTelemetry traces over OTLP/HTTP (JSON encoding): spans from the workers are queued (bounded: past
// `max_queue` they are dropped and counted), batched, and POSTed to the configured traces endpoint by one thread
// with its own io_context, watchdog and connection pool. A failed export is retried with backoff (429, 502, 503,
// 504 and connection failures, as the OTLP specification asks), others are dropped. Credentials in
// otel_exporter_otlp_headers are sent, never logged.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "config/settings.h"
#include "telemetry/trace.h"

namespace postern::ops {

class TraceExporter final : public telemetry::SpanSink {
 public:
  static constexpr std::size_t max_queue = 8192;
  static constexpr std::size_t max_batch = 512;

  explicit TraceExporter(config::TracingSettings settings);
  ~TraceExporter() override;
  TraceExporter(const TraceExporter&) = delete;
  TraceExporter& operator=(const TraceExporter&) = delete;

  void start();
  // Exports what is queued (one attempt, bounded by the export timeout), then stops the thread.
  void stop();

  void submit(telemetry::SpanRecord span) override;
  [[nodiscard]] double sample_ratio() const noexcept override { return settings_.sample_ratio; }

  struct Stats {
    std::uint64_t exported = 0, dropped = 0, failed_exports = 0;
  };
  [[nodiscard]] Stats stats() const noexcept {
    return {exported_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed),
            failed_.load(std::memory_order_relaxed)};
  }

 private:
  struct Runtime;
  config::TracingSettings settings_;
  std::mutex mutex_;
  std::deque<telemetry::SpanRecord> queue_;
  std::atomic<std::uint64_t> exported_{0}, dropped_{0}, failed_{0};
  std::unique_ptr<Runtime> runtime_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace postern::ops
