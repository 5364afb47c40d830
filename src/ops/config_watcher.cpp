#include "ops/config_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "net/timeouts.h"
#include "telemetry/log.h"

namespace postern::ops {
namespace asio = boost::asio;

struct ConfigWatcher::State : std::enable_shared_from_this<ConfigWatcher::State> {
  State(asio::io_context& io, int fd, std::function<void()> cb) : stream(io, fd), debounce(io), on_change(std::move(cb)) {}
  asio::posix::stream_descriptor stream;
  asio::steady_timer debounce;
  std::function<void()> on_change;
  std::map<int, std::string> dirs;                  // watch descriptor → directory
  std::map<std::string, std::set<std::string>> names;  // directory → file names watched in it
  alignas(inotify_event) char buffer[16 * 1024];
  bool stopped = false;

  void read() {
    stream.async_read_some(asio::buffer(buffer), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec || self->stopped) return;
      bool relevant = false;
      for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(self->buffer + off);
        off += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          relevant = true;  // events were lost: reload to be sure
          continue;
        }
        const auto dir = self->dirs.find(ev->wd);
        if (dir == self->dirs.end()) continue;
        const std::string name = ev->len ? std::string(ev->name) : std::string();
        const auto& watched = self->names[dir->second];
        // "..data" is the symlink Kubernetes swaps when a mounted ConfigMap or Secret changes.
        if (watched.contains(name) || name == "..data") relevant = true;
      }
      if (relevant) self->arm();
      self->read();
    });
  }

  void arm() {
    debounce.expires_after(net::timeouts::reload_debounce);
    debounce.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped) self->on_change();
    });
  }
};

ConfigWatcher::ConfigWatcher(asio::io_context& io, std::function<void()> on_change) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("inotify is unavailable: ") + std::strerror(errno));
  state_ = std::make_shared<State>(io, fd, std::move(on_change));
  state_->read();
}

ConfigWatcher::~ConfigWatcher() { stop(); }

void ConfigWatcher::watch(const std::vector<std::string>& files) {
  const int fd = state_->stream.native_handle();
  for (const auto& [wd, dir] : state_->dirs) ::inotify_rm_watch(fd, wd);
  state_->dirs.clear();
  state_->names.clear();
  for (const auto& file : files) {
    if (file.empty()) continue;
    const std::filesystem::path p = std::filesystem::absolute(file).lexically_normal();
    const std::string dir = p.parent_path().string();
    state_->names[dir].insert(p.filename().string());
  }
  for (const auto& [dir, names] : state_->names) {
    const int wd = ::inotify_add_watch(fd, dir.c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM);
    if (wd < 0) {
      telemetry::log(telemetry::Level::warn, "cannot watch a configuration directory; SIGHUP still reloads",
                     {{"directory", dir}, {"error", std::strerror(errno)}});
      continue;
    }
    state_->dirs[wd] = dir;
  }
}

void ConfigWatcher::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  state_->debounce.cancel();
  boost::system::error_code ec;
  state_->stream.close(ec);
}

}  // namespace postern::ops
