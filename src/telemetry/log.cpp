#include "telemetry/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "core/strings.h"

namespace postern::telemetry {
namespace {

std::atomic<int> current_level{static_cast<int>(Level::info)};

spdlog::logger& logger() {
  // Pattern "%v": we write the whole JSON object ourselves; spdlog gives us a thread-safe, flushed sink.
  static auto instance = [] {
    auto l = std::make_shared<spdlog::logger>("postern", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

}  // namespace

void init_logging(Level level) {
  current_level.store(static_cast<int>(level));
  (void)logger();
}

Level parse_level(std::string_view name) noexcept {
  if (name == "debug") return Level::debug;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  return Level::info;
}

bool enabled(Level level) noexcept { return static_cast<int>(level) >= current_level.load(std::memory_order_relaxed); }

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

void log(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  line += "{\"time\":\"";
  line += now_rfc3339();
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"msg\":\"";
  line += core::json_escape(msg);
  line += '"';
  for (const auto& f : fields) {
    line += ",\"";
    line += core::json_escape(f.key);
    line += "\":";
    if (f.raw) {
      line += f.value;
    } else {
      line += '"';
      line += core::json_escape(f.value);
      line += '"';
    }
  }
  line += '}';
  logger().info(line);
}

}  // namespace postern::telemetry
