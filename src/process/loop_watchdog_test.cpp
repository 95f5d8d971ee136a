// LoopWatchdog on real event loops with a counting ping: pings while every
// serving loop answers, none while one is wedged, again once it is free; every
// ping during a drain; none after stop().
#include "process/loop_watchdog.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>

namespace katsubushi::process {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Hang protection only: a slow machine ticks less often, never wrongly.
constexpr auto kBound = 10s;
constexpr std::chrono::microseconds kInterval = 20ms;

LoopWatchdog::Post poster(asio::io_context& io) {
  return [&io](std::function<void()> task) { asio::post(io, std::move(task)); };
}

// A control loop and two serving loops, each on a thread of its own.
struct Loops {
  asio::io_context control;
  asio::io_context serving[2];
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guards[3] = {
      asio::make_work_guard(control), asio::make_work_guard(serving[0]),
      asio::make_work_guard(serving[1])};
  std::atomic<int> pings{0};
  LoopWatchdog watchdog{control, {poster(serving[0]), poster(serving[1])}, kInterval,
                        [this] { ++pings; }};
  std::thread threads[3];

  Loops() {
    threads[0] = std::thread([this] { control.run(); });
    threads[1] = std::thread([this] { serving[0].run(); });
    threads[2] = std::thread([this] { serving[1].run(); });
  }
  ~Loops() {  // NOLINT(bugprone-exception-escape): a join that throws ends the test run anyway
    asio::post(control, [this] { watchdog.stop(); });
    for (auto& g : guards) g.reset();
    for (auto& t : threads) t.join();
  }
  Loops(const Loops&) = delete;
  Loops& operator=(const Loops&) = delete;

  bool wait_for_pings(int n) {
    const auto deadline = SteadyClock::now() + kBound;
    while (pings.load() < n) {
      if (SteadyClock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  // Blocks serving loop `i` until the returned promise is set.
  std::promise<void> wedge(std::size_t i) {
    std::promise<void> release;
    auto wedged = std::make_shared<std::atomic<bool>>(false);
    asio::post(serving[i], [wedged, released = release.get_future().share()] {
      wedged->store(true);
      released.wait();
    });
    while (!wedged->load()) std::this_thread::sleep_for(1ms);
    return release;
  }
};

TEST(LoopWatchdog, PingsOnlyWhileEveryServingLoopAnswers) {
  Loops loops;
  asio::post(loops.control, [&] { loops.watchdog.start(); });
  ASSERT_TRUE(loops.wait_for_pings(3));

  std::promise<void> release = loops.wedge(1);
  // At most one ping more: for a round loop 1 answered before it wedged.
  const int at_wedge = loops.pings.load();
  std::this_thread::sleep_for(kInterval * 10);
  EXPECT_LE(loops.pings.load(), at_wedge + 1);

  release.set_value();
  EXPECT_TRUE(loops.wait_for_pings(at_wedge + 3)) << "no pings after the loop came back";
}

TEST(LoopWatchdog, PingsDuringADrainWhateverTheServingLoopsDo) {
  Loops loops;
  asio::post(loops.control, [&] { loops.watchdog.start(); });
  ASSERT_TRUE(loops.wait_for_pings(1));
  std::promise<void> release = loops.wedge(0);
  asio::post(loops.control, [&] { loops.watchdog.draining(); });
  const int at_drain = loops.pings.load();
  EXPECT_TRUE(loops.wait_for_pings(at_drain + 3)) << "a drain stopped the pings";
  release.set_value();
}

TEST(LoopWatchdog, StopPingsOnceAndLetsTheControlLoopEnd) {
  asio::io_context control;
  asio::io_context serving;
  int pings = 0;
  LoopWatchdog watchdog(control, {poster(serving)}, kInterval, [&] { ++pings; });
  watchdog.start();
  // The first tick pings; then stop() pings once more and ends the ticking,
  // so run() returns: nothing else keeps the control loop busy.
  control.run_one();
  control.poll();
  ASSERT_GE(pings, 1);
  const int before_stop = pings;
  watchdog.stop();
  control.run_for(kBound);
  EXPECT_EQ(pings, before_stop + 1);
  EXPECT_TRUE(control.stopped()) << "the watchdog kept the control loop alive";
}

}  // namespace
}  // namespace katsubushi::process
