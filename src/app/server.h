#pragma once
// The running server: N workers, each a thread with its own io_context, SO_REUSEPORT listener, upstream pool and
// watchdog; a control loop on the calling thread handles signals and drives graceful shutdown.
#include <memory>

#include "config/snapshot.h"

namespace postern::app {

class Server {
 public:
  // Builds TLS contexts and binds the listeners; throws std::runtime_error with a readable message on failure.
  Server(config::SnapshotPtr snapshot, unsigned workers);
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
