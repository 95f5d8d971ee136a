// A serving thread's event loop of our own on io_uring (the io_uring build;
// katsubushi-epoll serves with Asio's epoll reactor instead).
//
// Asio's io_uring service submits and waits with two calls, takes a mutex
// per operation and reads into a buffer per connection. This loop is what
// one request at a time needs and nothing more:
//   - one io_uring_enter per turn, submitting everything the turn queued
//     and waiting for the next completion, or the next timer; with
//     -spin-wait, a thread whose recent spins found work first submits,
//     then watches the ring for work a while before it sleeps
//     (spin_wait.hpp);
//   - reads pick a buffer from a ring the loop provides when data arrives,
//     so an idle connection holds no input buffer at all;
//   - the ring is single-issuer with deferred task work: completions are
//     run only when the thread asks for them, in a batch.
// What the control loop hands over (connections, shutdown, the watchdog's
// heartbeat) comes through post(), which wakes the ring with an eventfd.
//
// Everything but post() and release() is for the loop's own thread.
#pragma once

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "server/spin_wait.hpp"

namespace katsubushi::server {

// What completions, timers and turns are delivered to. An operation's
// user_data is the handler's address with the operation's tag in the low
// bits (handlers are at least 8-byte aligned).
class UringHandler {
 public:
  // `op`: the tag the operation was submitted with; `res`, `flags`: the
  // completion's (0 for a timer or a turn).
  virtual void on_completion(unsigned op, int res, unsigned flags) = 0;

 protected:
  UringHandler() = default;
  ~UringHandler() = default;
  UringHandler(const UringHandler&) = delete;
  UringHandler& operator=(const UringHandler&) = delete;
};

class UringLoop final : private UringHandler {
 public:
  using Clock = std::chrono::steady_clock;
  using Timers = std::multimap<Clock::time_point, std::pair<UringHandler*, unsigned>>;
  using TimerId = Timers::iterator;

  static constexpr unsigned kTagBits = 3;
  static constexpr unsigned kTagMask = (1U << kTagBits) - 1;
  // Submission queue entries (the completion queue has twice as many; the
  // kernel keeps what overflows).
  static constexpr unsigned kEntries = 1024;
  // The buffers reads land in: a request of a few keys fits one; a read that
  // fills one takes the rest from the socket at once (the connection's
  // read_more()).
  static constexpr unsigned kReadBuffers = 128;  // per loop
  static constexpr unsigned kReadBufferBytes = 1024;

  // Makes the ring, disabled until run() enables it on its own thread, and
  // the eventfd that wakes it; `read_buffers` (a power of two) of
  // kReadBufferBytes each; `spin` as -spin-wait says. Throws
  // std::system_error.
  explicit UringLoop(unsigned read_buffers = kReadBuffers, SpinWaitOptions spin = {});
  ~UringLoop();
  UringLoop(const UringLoop&) = delete;
  UringLoop& operator=(const UringLoop&) = delete;

  // Why this kernel cannot run the loop (the ring's flags, its buffer ring,
  // the operations and features it uses), or nullopt: a loop is made,
  // started on this thread and closed.
  static std::optional<std::string> refusal();

  // Any thread: runs `task` on the loop's thread, in order.
  void post(std::function<void()> task);
  // Any thread: no more work is coming but what is in flight; run() returns
  // once every operation, timer and turn is done.
  void release();

  // The loop's thread: enables the ring and serves until released and out
  // of work. A handler that throws is logged and the loop goes on. Throws
  // std::system_error when the ring cannot be started.
  void run(std::size_t index);
  // Sets up what run() needs on this thread; run() calls it, refusal() too.
  void start();

  // --- the loop's thread only ---
  // A submission queue entry; submits what is queued when the queue is full.
  io_uring_sqe* sqe();
  static std::uint64_t user_data(UringHandler* h, unsigned op) {
    return reinterpret_cast<std::uintptr_t>(h) | op;
  }
  // Each operation submitted with a completion to come is counted until it
  // arrives: run() ends only when none is left.
  void expect_completion() { ++in_flight_; }
  void completion_arrived() { --in_flight_; }

  TimerId add_timer(Clock::time_point at, UringHandler* h, unsigned op) {
    return timers_.emplace(at, std::pair{h, op});
  }
  void cancel_timer(TimerId id) { timers_.erase(id); }
  // `h` gets on_completion(op, 0, 0) after the other work now ready ran.
  void defer(UringHandler* h, unsigned op) { turns_.emplace_back(h, op); }

  // The buffer a read's completion names (IORING_CQE_F_BUFFER), and giving
  // it back to the ring once its bytes are taken.
  std::span<const char> read_buffer(unsigned flags, int len) const;
  void recycle(unsigned flags);
  std::uint16_t buffer_group() const { return kBufferGroup; }

  // `tick` runs every `period` until the loop is released (the idle sweep).
  void every(Clock::duration period, std::function<void()> tick);

 private:
  static constexpr std::uint16_t kBufferGroup = 0;
  enum : unsigned { kWake = 1, kTick = 2 };

  void on_completion(unsigned op, int res, unsigned flags) override;
  std::size_t buf_ring_bytes() const { return std::size_t{read_buffers_} * sizeof(io_uring_buf); }
  void arm_wake();
  void run_tasks();
  void run_due_timers();
  void run_turns();
  void dispatch(std::uint64_t data, int res, unsigned flags);
  bool out_of_work() const;
  // Before a wait that may sleep until `until` (or for ever): with
  // -spin-wait, submits what is queued and, as the policy says, watches the
  // ring for work a while.
  void spin_before_waiting(std::optional<Clock::time_point> until);
  bool work_ready();

  io_uring ring_{};
  bool ring_made_ = false;
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  bool wake_armed_ = false;
  unsigned read_buffers_;
  char* buffers_ = nullptr;  // read_buffers_ × kReadBufferBytes
  io_uring_buf_ring* buf_ring_ = nullptr;
  bool started_ = false;

  std::mutex tasks_mutex_;
  std::vector<std::function<void()>> tasks_;  // guarded by tasks_mutex_
  std::atomic<bool> released_{false};

  SpinWaitOptions spin_options_;
  SpinWaitPolicy spin_;

  std::size_t in_flight_ = 0;
  Timers timers_;
  std::vector<std::pair<UringHandler*, unsigned>> turns_;
  std::optional<TimerId> tick_timer_;
  Clock::duration tick_period_{};
  std::function<void()> tick_;
};

}  // namespace katsubushi::server
