// systemd's watchdog, fed from the control loop only while every serving
// loop is alive: each tick posts a heartbeat to each serving loop and pings
// only if all of them answered the previous one. A wedged event loop so stops
// the pings, and systemd restarts the daemon.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "process/logging.hpp"

namespace katsubushi::process {

class LoopWatchdog {
 public:
  // How a heartbeat reaches one serving loop: runs the task on its thread
  // (an Asio io_context's post, or the io_uring loop's).
  using Post = std::function<void(std::function<void()>)>;

  // Pings with `ping` every `interval`/2 (systemd asks for pings at least
  // once per WATCHDOG_USEC, and half of it leaves room for a late tick).
  LoopWatchdog(boost::asio::io_context& control, std::vector<Post> serving,
               std::chrono::microseconds interval, std::function<void()> ping);
  LoopWatchdog(const LoopWatchdog&) = delete;
  LoopWatchdog& operator=(const LoopWatchdog&) = delete;

  // Starts ticking on the control loop.
  void start();
  // A graceful stop has begun: the serving loops wind down and may end, so
  // from now on the control loop alone decides (the drain is bounded by
  // -shutdown-timeout). Control loop only.
  void draining() { draining_ = true; }
  // Pings a last time and stops ticking, so the control loop can end.
  // Control loop only.
  void stop();

 private:
  boost::asio::awaitable<void> tick();
  bool all_answered() const;

  boost::asio::io_context& control_;
  std::vector<Post> serving_;
  std::chrono::microseconds period_;
  std::function<void()> ping_;
  boost::asio::steady_timer timer_;
  // answered_[i]: the last heartbeat serving loop i ran; round_: the last sent.
  std::unique_ptr<std::atomic<std::uint64_t>[]> answered_;
  std::uint64_t round_ = 0;
  bool draining_ = false;
  bool stopped_ = false;
  LogRateLimit silent_log_{std::chrono::seconds(10)};
};

}  // namespace katsubushi::process
