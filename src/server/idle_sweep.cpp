// Each thread's periodic sweep: closes connections idle past -idle-timeout
// and, after connections closed, gives free heap back to the system.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>

#include "process/memory.hpp"
#include "server/server.hpp"
#include "server/uring_loop.hpp"

namespace katsubushi::server {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// How often each thread looks for idle connections: a quarter of the idle
// timeout, so one is closed at most 25% late, at most once a second.
SteadyClock::duration sweep_period(std::chrono::nanoseconds idle_timeout) {
  using namespace std::chrono_literals;
  if (idle_timeout == std::chrono::nanoseconds::zero()) return 1s;
  return std::clamp<SteadyClock::duration>(
      std::chrono::duration_cast<SteadyClock::duration>(idle_timeout / 4), 10ms, 1s);
}

}  // namespace

void Server::start_sweep(Worker& w) {
  if (!w.loop) {
    asio::co_spawn(w.io, sweep(w), asio::detached);
    return;
  }
  // A UringLoop ticks until it is released (at shutdown).
  w.loop->every(sweep_period(config_.idle_timeout),
                [this, &w, state = std::make_shared<SweepState>()] {
                  if (!stopping_.load()) sweep_once(w, *state);
                });
}

asio::awaitable<void> Server::sweep(Worker& w) {
  const auto period = sweep_period(config_.idle_timeout);
  SweepState state;
  while (!stopping_.load()) {
    w.sweeper->expires_after(period);
    co_await w.sweeper->async_wait(use_tuple);
    if (stopping_.load()) break;
    sweep_once(w, state);
  }
}

void Server::sweep_once(Worker& w, SweepState& state) {
  const auto idle_timeout = config_.idle_timeout;
  if (idle_timeout != std::chrono::nanoseconds::zero()) {
    w.registry.sweep_idle(SteadyClock::now(), idle_timeout);
  }
  if (w.index == 0 && grpc_) grpc_->reap();
  if (w.index == 0 && SteadyClock::now() - state.last_trim >= std::chrono::seconds(1)) {
    // Connections closed since the last look: their buffers went back to
    // the heap; give its free pages back to the system, at most once a second.
    const auto closed = static_cast<std::int64_t>(counters_.total_connections.load()) -
                        counters_.curr_connections.load();
    if (closed != state.closed_at_last_trim) {
      state.closed_at_last_trim = closed;
      state.last_trim = SteadyClock::now();
      process::give_back_free_memory();
      counters_.memory_trims.fetch_add(1, std::memory_order_relaxed);
      trim_generation_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (w.index != 0) {
    const auto generation = trim_generation_.load(std::memory_order_relaxed);
    if (generation != state.trims_seen) {
      state.trims_seen = generation;
      process::give_back_thread_heap_top();
    }
  }
}

}  // namespace katsubushi::server
