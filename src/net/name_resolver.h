#pragma once
// Host name lookups for an io_context that runs without any locking (see worker_concurrency_hint). Asio's resolver
// cannot serve such a context: it completes lookups by posting from its own thread. Here getaddrinfo runs on a
// helper thread (started on the first lookup; one per resolver, as Asio's resolver has) and results come back
// through an eventfd that the io_context's own reactor watches, so nothing but the owning thread ever touches the
// io_context. The queue of waiting lookups is bounded; a caller that stops waiting (deadline) abandons its lookup.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/asio_types.h"
#include "net/watchdog.h"

namespace postern::net {

struct Lookup {
  boost::system::error_code error;  // timed_out past the deadline, no_buffer_space when the queue is full
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
};

class NameResolver {
 public:
  static constexpr std::size_t max_queued = 256;

  explicit NameResolver(boost::asio::io_context& io);
  ~NameResolver();  // never blocks on a lookup in progress: the helper thread finishes it alone, then exits
  NameResolver(const NameResolver&) = delete;
  NameResolver& operator=(const NameResolver&) = delete;

  // The addresses of host:port, or an error; gives up at `deadline`. Call on the io_context's thread only.
  Task<Lookup> resolve(std::string host, std::uint16_t port, Watched::clock::time_point deadline);
  // Stops waiting for lookups still running (abandoned ones included) so the io_context can run out of work;
  // later calls fail with operation_aborted. For shutdown, once no request waits for a lookup.
  void shutdown();

 private:
  struct State;
  struct Job;
  void arm();
  void deliver();
  boost::asio::io_context& io_;
  std::shared_ptr<State> state_;  // shared with the helper thread
  std::unique_ptr<boost::asio::posix::basic_stream_descriptor<Executor>> ready_;  // the eventfd, worker side
  std::size_t waiting_ = 0;  // lookups whose result has not been delivered
  bool armed_ = false;
  bool stopped_ = false;
};

}  // namespace postern::net
