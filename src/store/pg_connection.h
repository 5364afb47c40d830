#pragma once
// One PostgreSQL connection through libpq, every call bounded by a named deadline: the connect and each statement
// are driven with libpq's non-blocking API and poll(2), so a database that stops answering costs the caller at most
// the deadline, never a hang (a statement past its deadline is cancelled and the connection dropped). Not
// thread-safe: one thread uses a connection at a time (PgPool hands them out).
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::store {

struct PgParam {
  std::string_view value;
  bool binary = false;  // bytea
  bool null = false;
};

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r, std::string error = {}) : result_(r, &PQclear), error_(std::move(error)) {}
  [[nodiscard]] bool ok() const noexcept;  // a command or rows, no error
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  [[nodiscard]] int rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
  [[nodiscard]] bool is_null(int row, int col) const noexcept { return PQgetisnull(result_.get(), row, col) != 0; }
  [[nodiscard]] std::string_view text(int row, int col) const noexcept;
  // A bytea column (text format, hex) decoded.
  [[nodiscard]] std::string bytes(int row, int col) const;
  [[nodiscard]] std::string_view sqlstate() const noexcept;

 private:
  std::shared_ptr<PGresult> result_;
  std::string error_;  // ours (timeout, connection lost) or the server's message
};

class PgConnection {
 public:
  using Clock = std::chrono::steady_clock;
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects within `timeout`; null with `error` (never the password) on failure.
  [[nodiscard]] static std::unique_ptr<PgConnection> connect(const std::string& conninfo,
                                                             std::chrono::milliseconds timeout, std::string& error);
  // One statement with text parameters ($1…) and text results, within `timeout` (without parameters: any number of
  // statements; the last one's result).
  [[nodiscard]] PgResult exec(std::string_view sql, std::initializer_list<PgParam> params,
                              std::chrono::milliseconds timeout);
  [[nodiscard]] PgResult exec(std::string_view sql, const std::vector<PgParam>& params,
                              std::chrono::milliseconds timeout);
  // False once a call failed in a way that leaves the connection unusable; drop it then.
  [[nodiscard]] bool healthy() const noexcept;
  // Waits up to `timeout` for a notification on a channel this connection LISTENs to; false when the connection
  // failed. Notifications arrive in `out` as (channel, payload).
  [[nodiscard]] bool wait_notifications(std::chrono::milliseconds timeout,
                                        std::vector<std::pair<std::string, std::string>>& out);

 private:
  explicit PgConnection(PGconn* c) : conn_(c) {}
  // poll(2) for `events` on the socket until `deadline`; false on timeout or error.
  bool wait_socket(short events, Clock::time_point deadline);
  void drain_notifications(std::vector<std::pair<std::string, std::string>>& out);
  PGconn* conn_;
  bool broken_ = false;
};

}  // namespace postern::store
