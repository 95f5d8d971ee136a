// The daemon's event loops, one per thread: loop 0 is the control loop
// (listeners, signals, shutdown, giving memory back); loops 1..threads serve
// connections.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/connection.hpp"
#include "server/spin_wait.hpp"

namespace katsubushi::server {

class UringLoop;
struct UringShell;

// One thread's event loop and its live connections.
//
// The control loop (index 0) is an Asio io_context in both builds; so are
// the serving loops of katsubushi-epoll. The io_uring build serves with a
// UringLoop of its own instead (uring_loop.hpp), and its Asio io_context
// stays unused.
//
// An Asio loop's reactor (an io_uring ring; or an epoll fd, an eventfd and a
// timerfd) is created here, at start, by the timer: created lazily by the
// first connection, it could fail for lack of fds in the middle of serving.
// A UringLoop makes its ring and eventfd when it is made.
struct Worker {
  Worker(std::size_t thread_index, bool own_loop, SpinWaitOptions spin = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  std::size_t index;
  // Declared before the loops, so it outlives them: a connection still
  // waiting when the loop is destroyed is destroyed with its operation, and
  // leaves the registry then.
  ConnectionRegistry registry;
  boost::asio::io_context io{1};
  std::unique_ptr<UringLoop> loop;  // the io_uring build's serving loops
  std::unique_ptr<UringShell> shell;  // what its connections share (set by the server)
  std::optional<boost::asio::steady_timer> reactor_primer;
  std::optional<boost::asio::steady_timer> sweeper;  // the idle sweep's tick; cancelled at shutdown
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;

  // Any thread: runs `task` on this loop's thread.
  void post(std::function<void()> task);
  // Keeps the loop running while it has nothing to do, until release().
  void hold();
  void release();
};

// The control loop and `threads` serving loops (at least one), after raising
// the soft fd limit to the hard one. Throws std::runtime_error, with advice
// for the operator, when the fds they need do not fit the limit or a loop
// cannot be made. `spin`: -spin-wait, for the io_uring build's serving loops.
std::vector<std::unique_ptr<Worker>> make_workers(unsigned threads, SpinWaitOptions spin = {});

// Runs one thread's event loop until it runs out of work. A handler that
// throws is logged and the loop goes on: an exception must never unwind a
// thread into std::terminate.
void run_event_loop(boost::asio::io_context& io, std::size_t index);

// Runs a serving thread's loop (either kind). `started` gets "" once the loop
// is serving, or why it cannot start (then this returns at once).
void run_serving_loop(Worker& w, std::promise<std::string>& started);

}  // namespace katsubushi::server
