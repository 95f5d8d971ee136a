#include "process/loop_watchdog.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace katsubushi::process {

namespace asio = boost::asio;

LoopWatchdog::LoopWatchdog(asio::io_context& control, std::vector<Post> serving,
                           std::chrono::microseconds interval, std::function<void()> ping)
    : control_(control),
      serving_(std::move(serving)),
      period_(std::max(interval / 2, std::chrono::microseconds(1))),
      ping_(std::move(ping)),
      timer_(control),
      answered_(std::make_unique<std::atomic<std::uint64_t>[]>(serving_.size())) {}

void LoopWatchdog::start() { asio::co_spawn(control_, tick(), asio::detached); }

void LoopWatchdog::stop() {
  if (stopped_) return;
  stopped_ = true;
  // What follows the drain (the state file, the lease) gets a whole interval.
  ping_();
  timer_.cancel();
}

bool LoopWatchdog::all_answered() const {
  for (std::size_t i = 0; i < serving_.size(); ++i) {
    if (answered_[i].load(std::memory_order_acquire) != round_) return false;
  }
  return true;
}

asio::awaitable<void> LoopWatchdog::tick() {
  // The first ping at once: systemd counts the interval from READY=1.
  while (!stopped_) {
    if (draining_ || all_answered()) {
      ping_();
    } else {
      std::uint64_t suppressed = 0;
      if (silent_log_.allow(suppressed)) {
        spdlog::error("an event loop did not run the watchdog's heartbeat within {} ms: not "
                      "telling systemd that the daemon is alive",
                      std::chrono::duration_cast<std::chrono::milliseconds>(period_).count());
      }
    }
    if (!draining_ && all_answered()) {
      ++round_;
      for (std::size_t i = 0; i < serving_.size(); ++i) {
        serving_[i]([answered = &answered_[i], round = round_] {
          answered->store(round, std::memory_order_release);
        });
      }
    }
    timer_.expires_after(period_);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace katsubushi::process
