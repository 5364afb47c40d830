#pragma once
// The running server: N workers, each a thread with its own io_context, SO_REUSEPORT listener, upstream pool and
// watchdog; a control loop on the calling thread handles signals, hot reload (inotify + SIGHUP), the metrics and
// health-probe listeners, and drives graceful shutdown.
#include <memory>
#include <string>

#include "config/snapshot.h"

namespace postern::app {

class Server {
 public:
  // Builds TLS contexts and binds the listeners; throws std::runtime_error with a readable message on failure.
  // `config_path` ("" when configured from the environment only) is read again by each reload.
  Server(config::SnapshotPtr snapshot, unsigned workers, std::string config_path);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until SIGTERM or SIGINT, then drains (bounded by timeouts::shutdown_grace). Returns the exit status.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace postern::app
