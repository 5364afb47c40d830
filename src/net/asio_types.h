#pragma once
// The concrete Asio types every module uses. Each worker runs one io_context on one thread, so I/O objects and
// coroutines are bound to io_context::executor_type directly rather than the type-erased any_io_executor: no heap
// or virtual dispatch per operation.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace postern::net {

using Executor = boost::asio::io_context::executor_type;
template <class T = void>
using Task = boost::asio::awaitable<T, Executor>;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;
using Resolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, Executor>;
using Timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

// Completion token for coroutines on the data path: results come back as a tuple with the error code, never as an
// exception.
inline constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable_t<Executor>{});

// An io_context whose pending work (suspended coroutine frames, queued handlers) can be destroyed while the objects
// those frames refer to still exist. A plain io_context destroys them in its own destructor, which runs after the
// members declared beside it (a worker's buffer pools, upstream pool, watchdog) are gone, so a frame releasing a
// pooled buffer on its way out would write into freed memory. Call shutdown_work() once run() has returned (on any
// thread, none running it), before destroying what the work uses; the io_context and its I/O objects stay valid to
// destroy afterwards, in any order the usual rules allow.
class IoContext : public boost::asio::io_context {
 public:
  using boost::asio::io_context::io_context;
  void shutdown_work() { shutdown(); }
};

// One thread per io_context and nothing shared between them: no locking in the scheduler or the reactor. No other
// thread may post to a worker's io_context or stop it (the server's control thread sets a flag the worker polls).
inline constexpr int worker_concurrency_hint = BOOST_ASIO_CONCURRENCY_HINT_UNSAFE;

}  // namespace postern::net
