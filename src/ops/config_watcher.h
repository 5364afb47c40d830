#pragma once
// Watches the configuration's files with inotify and calls back once a burst of changes has settled
// (net::timeouts::reload_debounce). It watches each file's directory rather than the file itself, so an editor's
// write-to-temp-then-rename, a Kubernetes ConfigMap's symlink swap (`..data`) and a file that does not exist yet are
// all seen. Runs on the control thread's io_context.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace postern::ops {

class ConfigWatcher {
 public:
  // Throws std::runtime_error when inotify is unavailable.
  ConfigWatcher(boost::asio::io_context& io, std::function<void()> on_change);
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Replaces the set of watched files (paths as the configuration names them, relative to the working directory).
  void watch(const std::vector<std::string>& files);
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace postern::ops
