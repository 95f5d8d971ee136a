// The fixture of the daemon tests that need one plain daemon per test: the
// real binary on a free loopback port with a fixed worker id and two
// threads, stopped after the test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "testing/daemon_process.hpp"
#include "testing/loopback_client.hpp"

namespace katsubushi::testing {

// When the fixture's daemon starts: before each test with no more flags, or
// when the test calls start() with the flags it is about.
enum class DaemonStart { in_set_up, by_test };

// `using MyTest = DaemonFixture<42>;` then TEST_F(MyTest, ...). Each suite
// picks its own worker id so that its ids are told apart from other suites'.
template <std::uint32_t WorkerId, DaemonStart When = DaemonStart::in_set_up>
class DaemonFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if constexpr (When == DaemonStart::in_set_up) start();
  }
  // Starts the daemon with `extra` flags after the fixture's own.
  void start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"-worker-id=" + std::to_string(WorkerId), "-threads=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(daemon_.start_tcp(args)) << daemon_.log();
  }
  // A client connected to the daemon's memcached port.
  LoopbackClient connect() {
    LoopbackClient c;
    EXPECT_TRUE(c.connect_tcp("127.0.0.1", daemon_.port()));
    return c;
  }
  DaemonProcess daemon_;
};

}  // namespace katsubushi::testing
