// The daemon's event loops, one per thread: loop 0 is the control loop
// (listeners, signals, shutdown, giving memory back); loops 1..threads serve
// connections.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "server/connection.hpp"

namespace katsubushi::server {

// One thread's event loop and its live connections. The loop's reactor (an
// io_uring ring; or an epoll fd, an eventfd and a timerfd) is created here, at start, by the timer:
// created lazily by the first connection, it could fail for lack of fds
// in the middle of serving.
struct Worker {
  explicit Worker(std::size_t thread_index)
      : index(thread_index), reactor_primer(io), sweeper(io) {}
  std::size_t index;
  // Declared before the loop, so it outlives it: a connection still waiting
  // when the loop is destroyed is destroyed with its operation, and leaves
  // the registry then.
  ConnectionRegistry registry;
  boost::asio::io_context io{1};
  boost::asio::steady_timer reactor_primer;
  boost::asio::steady_timer sweeper;  // the idle sweep's tick; cancelled at shutdown
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
};

// The control loop and `threads` serving loops (at least one), after raising
// the soft fd limit to the hard one. Throws std::runtime_error, with advice
// for the operator, when the fds they need do not fit the limit or a loop
// cannot be made.
std::vector<std::unique_ptr<Worker>> make_workers(unsigned threads);

// Runs one thread's event loop until it runs out of work. A handler that
// throws is logged and the loop goes on: an exception must never unwind a
// thread into std::terminate.
void run_event_loop(boost::asio::io_context& io, std::size_t index);

}  // namespace katsubushi::server
