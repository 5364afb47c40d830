#include "net/name_resolver.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>

using namespace postern;
namespace asio = boost::asio;

namespace {

// Runs one lookup on an io_context configured as a worker's (no locking at all) and returns its outcome. run()
// returning at all shows the resolver leaves no wait pending once its lookups are delivered.
net::Lookup run_lookup(net::NameResolver& resolver, asio::io_context& io, std::string host,
                       std::chrono::milliseconds budget) {
  net::Lookup out;
  asio::co_spawn(
      io,
      [&]() -> net::Task<void> {
        out = co_await resolver.resolve(host, 8443, net::Watched::clock::now() + budget);
      },
      asio::detached);
  io.restart();
  io.run();
  return out;
}

}  // namespace

TEST(NameResolver, ResolvesOnAnUnlockedIoContext) {
  asio::io_context io(net::worker_concurrency_hint);
  net::NameResolver resolver(io);
  const auto found = run_lookup(resolver, io, "localhost", std::chrono::seconds(10));
  ASSERT_FALSE(found.error) << found.error.message();
  ASSERT_FALSE(found.endpoints.empty());
  for (const auto& e : found.endpoints) {
    EXPECT_TRUE(e.address().is_loopback()) << e.address().to_string();
    EXPECT_EQ(e.port(), 8443);
  }
  // A second lookup reuses the helper thread.
  const auto again = run_lookup(resolver, io, "127.0.0.1", std::chrono::seconds(10));
  ASSERT_FALSE(again.error) << again.error.message();
  EXPECT_EQ(again.endpoints.front().address().to_string(), "127.0.0.1");
}

TEST(NameResolver, UnknownNamesFail) {
  asio::io_context io(net::worker_concurrency_hint);
  net::NameResolver resolver(io);
  const auto missing = run_lookup(resolver, io, "no-such-host.invalid", std::chrono::seconds(10));
  EXPECT_TRUE(missing.error);
  EXPECT_TRUE(missing.endpoints.empty());
}

TEST(NameResolver, APassedDeadlineGivesUpAtOnce) {
  asio::io_context io(net::worker_concurrency_hint);
  net::NameResolver resolver(io);
  const auto late = run_lookup(resolver, io, "localhost", std::chrono::milliseconds(-1));
  EXPECT_EQ(late.error, asio::error::timed_out);
  // The abandoned lookup still completes on the helper thread; the resolver keeps working afterwards.
  const auto found = run_lookup(resolver, io, "localhost", std::chrono::seconds(10));
  EXPECT_FALSE(found.error) << found.error.message();
}

TEST(NameResolver, AfterShutdownLookupsAreRefusedAndNothingIsAwaited) {
  asio::io_context io(net::worker_concurrency_hint);
  net::NameResolver resolver(io);
  // One lookup abandoned by its caller (deadline passed) may still be running on the helper thread.
  EXPECT_EQ(run_lookup(resolver, io, "localhost", std::chrono::milliseconds(-1)).error, asio::error::timed_out);
  resolver.shutdown();
  const auto refused = run_lookup(resolver, io, "localhost", std::chrono::seconds(10));
  EXPECT_EQ(refused.error, asio::error::operation_aborted);
}
