#include "store/pg_connection.h"

#include <poll.h>

#include <cstring>

namespace postern::store {
namespace {

std::string first_line(const char* message) {
  std::string s = message ? message : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

bool PgResult::ok() const noexcept {
  if (!result_ || !error_.empty()) return false;
  const auto st = PQresultStatus(result_.get());
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

std::string_view PgResult::text(int row, int col) const noexcept {
  return {PQgetvalue(result_.get(), row, col), static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
}

std::string PgResult::bytes(int row, int col) const {
  std::size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &n);
  if (!raw) return {};
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

std::string_view PgResult::sqlstate() const noexcept {
  if (!result_) return {};
  const char* s = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
  return s ? std::string_view(s) : std::string_view();
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::healthy() const noexcept { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

bool PgConnection::wait_socket(short events, Clock::time_point deadline) {
  const int fd = PQsocket(conn_);
  if (fd < 0) return false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::unique_ptr<PgConnection> PgConnection::connect(const std::string& conninfo, std::chrono::milliseconds timeout,
                                                    std::string& error) {
  // Our defaults first: what the connection string says wins (expand_dbname parses it as a URL or key=value list).
  const char* keys[] = {"application_name", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "dbname", nullptr};
  const char* values[] = {"postern", "1", "10", "5", "3", conninfo.c_str(), nullptr};
  PGconn* c = PQconnectStartParams(keys, values, 1);
  if (!c) {
    error = "out of memory";
    return nullptr;
  }
  std::unique_ptr<PgConnection> conn(new PgConnection(c));
  if (PQstatus(c) == CONNECTION_BAD) {
    error = first_line(PQerrorMessage(c));
    return nullptr;
  }
  const auto deadline = Clock::now() + timeout;
  auto state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) {
      error = first_line(PQerrorMessage(c));
      return nullptr;
    }
    if (!conn->wait_socket(state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
      error = "no answer within " + std::to_string(timeout.count()) + " ms (store_connect_timeout)";
      return nullptr;
    }
    state = PQconnectPoll(c);
  }
  if (PQsetnonblocking(c, 1) != 0) {
    error = "could not make the connection non-blocking";
    return nullptr;
  }
  return conn;
}

PgResult PgConnection::exec(std::string_view sql, std::initializer_list<PgParam> params,
                            std::chrono::milliseconds timeout) {
  return exec(sql, std::vector<PgParam>(params), timeout);
}

PgResult PgConnection::exec(std::string_view sql, const std::vector<PgParam>& params,
                            std::chrono::milliseconds timeout) {
  if (!healthy()) return PgResult(nullptr, "the connection is closed");
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> values;  // NUL-terminated copies
  values.reserve(params.size());
  std::vector<const char*> ptrs;
  std::vector<int> lengths, formats;
  for (const auto& p : params) {
    values.emplace_back(p.value);
    ptrs.push_back(p.null ? nullptr : values.back().c_str());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  const std::string text(sql);
  // Without parameters the simple protocol runs it, so a migration may hold several statements.
  const int sent = params.empty() ? PQsendQuery(conn_, text.c_str())
                                  : PQsendQueryParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                                      ptrs.data(), lengths.data(), formats.data(), 0);
  if (!sent) {
    broken_ = true;
    return PgResult(nullptr, first_line(PQerrorMessage(conn_)));
  }
  auto fail = [&](std::string why) {
    // Past the deadline: ask the server to stop, and give up on this connection (its state is unknown).
    if (PGcancel* cancel = PQgetCancel(conn_)) {
      char buf[256];
      PQcancel(cancel, buf, sizeof buf);
      PQfreeCancel(cancel);
    }
    broken_ = true;
    return PgResult(nullptr, std::move(why));
  };
  while (true) {
    const int flushed = PQflush(conn_);
    if (flushed < 0) return fail(first_line(PQerrorMessage(conn_)));
    if (flushed == 0) break;
    if (!wait_socket(POLLOUT | POLLIN, deadline)) return fail("no answer within the statement deadline");
    if (!PQconsumeInput(conn_)) return fail(first_line(PQerrorMessage(conn_)));
  }
  PgResult last;
  while (true) {
    while (PQisBusy(conn_)) {
      if (!wait_socket(POLLIN, deadline)) return fail("no answer within the statement deadline");
      if (!PQconsumeInput(conn_)) return fail(first_line(PQerrorMessage(conn_)));
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    const auto st = PQresultStatus(r);
    std::string error;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) error = first_line(PQresultErrorMessage(r));
    last = PgResult(r, std::move(error));
  }
  if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
  return last;
}

void PgConnection::drain_notifications(std::vector<std::pair<std::string, std::string>>& out) {
  while (PGnotify* n = PQnotifies(conn_)) {
    out.emplace_back(n->relname ? n->relname : "", n->extra ? n->extra : "");
    PQfreemem(n);
  }
}

bool PgConnection::wait_notifications(std::chrono::milliseconds timeout,
                                      std::vector<std::pair<std::string, std::string>>& out) {
  if (!healthy()) return false;
  drain_notifications(out);
  if (!out.empty()) return true;
  if (wait_socket(POLLIN, Clock::now() + timeout)) {
    if (!PQconsumeInput(conn_)) {
      broken_ = true;
      return false;
    }
    drain_notifications(out);
  }
  return PQstatus(conn_) == CONNECTION_OK;
}

}  // namespace postern::store
