#pragma once
// The access log: one JSON line per request on stdout. Each worker owns an AccessLog and appends to it without
// locking; full buffers (or every flush interval, see WorkerContext) are handed to one writer thread, so a slow
// disk never stalls a worker, and written whole, so lines from different workers never interleave.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "telemetry/authorize_log.h"

namespace postern::telemetry {

struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view host;
  std::string_view path;  // without the query string: queries may carry codes and tokens
  unsigned status = 0;
  double duration_ms = 0;
  std::string_view upstream;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string_view client_ip;
  std::string_view protocol = "HTTP/1.1";  // as the client spoke: HTTP/1.0, HTTP/1.1, HTTP/2
};

class AccessLog {
 public:
  // Lines are written sequentially into one buffer that is handed to the writer thread past the threshold; 64 KiB
  // keeps what a worker touches small (a 256 KiB buffer measured the same CPU per request and holds 4× the memory).
  static constexpr std::size_t capacity = 64 * 1024;  // the bound on buffered bytes per worker
  static constexpr std::size_t flush_threshold = 48 * 1024;
  AccessLog();
  ~AccessLog() { flush(); }
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Appends one line; returns true when the caller should schedule a flush (the buffer went from empty to non-empty).
  bool append(const AccessRecord& record);
  // Appends one `authorize check` line (authorize_log.h) the same way.
  bool append(const AuthorizeRecord& record);
  // Hands what is buffered to the writer thread.
  void flush();

  // One line exactly as append() writes it (for tests).
  [[nodiscard]] static std::string format(const AccessRecord& record);

 private:
  // Appends a line of at most `bound` bytes written by `format(record, out)`.
  template <class Record>
  bool append_line(const Record& record, std::size_t bound, std::size_t (*format)(const Record&, char*));

  std::unique_ptr<char[]> buffer_;
  std::size_t size_ = 0;
};

// Waits until every line handed over by flush() is written (shutdown).
void flush_access_logs();

}  // namespace postern::telemetry
