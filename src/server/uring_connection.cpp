// One connection on a UringLoop. Its life is the Asio connection's
// (connection_impl.hpp): one State that only moves forward, `wait_` naming
// what it is parked on, and one place that decides to read, after_flush().
//
// What differs is how a step waits: a reply is sent by the ring, and its
// completion says how much went out; the read after it is submitted in the
// same io_uring_enter that waits (a reply linked to the next read, with the
// reply's completion skipped, saved that call but lost connections: see
// send()).
//
// The connection is destroyed only once nothing of it is in the kernel (an
// operation, a cancellation) or in the loop (a timer, a turn): closing
// cancels what is in flight and waits for it.
#include "server/uring_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "server/connection_impl.hpp"
#include "server/deadline.hpp"

namespace katsubushi::server {

namespace connection_detail {

class UringConnection final : public StopHandle, public UringHandler {
 public:
  UringConnection(int fd, bool tcp, ConnectionSlot slot, session::Protocol protocol,
                  UringShell& shell)
      : slot_(std::move(slot)),
        fd_(fd),
        core_(shell.services.session, shell.services.limits, protocol),
        shell_(shell),
        last_progress_(Clock::now()) {
    // Counted from its making to its destruction (the live_sessions stat).
    shell_.services.counters.live_sessions.fetch_add(1, std::memory_order_relaxed);
    if (tcp) {
      // As the Asio connection: bounds what a slow reader pins in the kernel.
      const int lowat = static_cast<int>(config::kKernelUnsentBytes);
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    }
    shell_.registry.add(this);  // may call request_stop() at once, during a shutdown
  }
  ~UringConnection() {
    shell_.registry.remove(this);
    shell_.services.counters.live_sessions.fetch_sub(1, std::memory_order_relaxed);
  }
  UringConnection(const UringConnection&) = delete;
  UringConnection& operator=(const UringConnection&) = delete;

  void start() {
    guarded([this] { step(Next::answer); });
    finish_if_done();
  }

  void request_stop() override {
    advance(State::stopping);
    // Only a read is interrupted; a write in progress is allowed to finish.
    if (wait_ == Wait::read) cancel_io();
  }
  void force_close() override {
    forced_ = true;
    if (timer_armed_) {
      // Waiting on a timer: a turn of the loop closes it instead.
      loop().cancel_timer(timer_);
      timer_armed_ = false;
      take_turn();
    }
    cancel_io();
  }
  void check_idle(Clock::time_point now, std::chrono::nanoseconds timeout) override {
    if (wait_ != Wait::read && wait_ != Wait::write) return;
    if (wait_ == Wait::write && client_took_queued_bytes()) last_progress_ = now;
    if (now < deadline_after(last_progress_, timeout)) return;
    advance(State::idle_expired);
    cancel_io();
  }

  void on_completion(unsigned op, int res, unsigned flags) override {
    switch (op) {
      case kRecv:
        loop().completion_arrived();
        reading_ = false;
        guarded([&] { on_recv(res, flags); });
        break;
      case kSend:
        loop().completion_arrived();
        sending_ = false;
        guarded([&] { after_send(res); });
        break;
      case kTimer:
        timer_armed_ = false;
        guarded([&] { on_timer(); });
        break;
      case kTurn:
        in_turn_ = false;
        guarded([&] { resume_now(); });
        break;
      case kLinger:
        loop().completion_arrived();
        lingering_read_ = false;
        guarded([&] { on_linger_read(res, flags); });
        break;
      case kCancel:
        loop().completion_arrived();
        --cancels_;
        break;
      default:
        break;
    }
    finish_if_done();
  }
  // Ends the connection once it is closing and nothing of it is left in
  // the kernel or the loop: the last thing done with it.
  void finish_if_done() {
    if (!closing_ || !nothing_pending()) return;
    ::close(fd_);
    delete this;
  }

 private:
  enum Op : unsigned { kRecv = 0, kSend, kTimer, kTurn, kLinger, kCancel };
  enum class Wait : std::uint8_t { none, read, write, ids, linger };

  void advance(State to) { state_ = std::max(state_, to); }

  // A step that throws ends the connection (as a busy Asio connection's
  // coroutine that threw), and the thread serves on.
  template <typename F>
  void guarded(F&& f) {
    try {
      f();
    } catch (...) {
      log_if_failed(std::current_exception());
      forced_ = true;
      begin_close();
    }
  }

  bool has_request_in_hand() const noexcept {
    return core_.not_before_unix_ms() != 0 || core_.yielded();
  }

  void step(Next next) {
    if (closing_) return;  // what is in flight ends it
    for (;;) {
      switch (next) {
        case Next::answer:
          if (forced_) {
            next = Next::close;
            break;
          }
          if (core_.output().empty()) {
            next = after_flush();
            break;
          }
          send();
          return;
        case Next::read:
          recv();
          wait_ = Wait::read;
          return;
        case Next::resume:
          wait_for_ids();
          return;
        case Next::linger:
          linger();
          return;
        case Next::close:
          begin_close();
          return;
      }
    }
  }

  Next after_flush() { return next_after_flush(core_, state_, has_request_in_hand()); }

  void send() {
    const std::string_view out = core_.output();
    io_uring_sqe* s = loop().sqe();
    ::io_uring_prep_send(s, fd_, out.data(), out.size(), MSG_NOSIGNAL);
    last_progress_ = Clock::now();  // the idle timer of a write starts now
    queued_at_last_look_ = -1;
    wait_ = Wait::write;
    // Not linked to the read after it: with the reply's completion skipped,
    // a reply cut short by a reset left the linked read neither run nor
    // cancelled on Linux 6.18 (chaos: pipeline-close, rst-mid-reply), and
    // the connection waited for it for ever.
    ::io_uring_sqe_set_data64(s, UringLoop::user_data(this, kSend));
    loop().expect_completion();
    sending_ = true;
  }

  void recv() {
    submit_read(kRecv);
    reading_ = true;
  }
  // A read into a buffer the loop lends when data arrives; `op` says whose.
  void submit_read(Op op) {
    io_uring_sqe* s = loop().sqe();
    ::io_uring_prep_recv(s, fd_, nullptr, UringLoop::kReadBufferBytes, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = loop().buffer_group();
    ::io_uring_sqe_set_data64(s, UringLoop::user_data(this, op));
    loop().expect_completion();
  }

  void on_recv(int res, unsigned flags) {
    wait_ = Wait::none;
    const bool has_buffer = res > 0 && (flags & IORING_CQE_F_BUFFER) != 0;
    if (closing_) {
      if (has_buffer) loop().recycle(flags);
      return;
    }
    if (state_ == State::idle_expired) {
      if (has_buffer) loop().recycle(flags);
      shell_.services.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
      step(Next::linger);
      return;
    }
    if (res == -ECANCELED) {
      if (forced_) {
        step(Next::close);
      } else {
        step(state_ == State::stopping ? Next::linger : Next::answer);
      }
      return;
    }
    if (res == 0) {
      end_input();
      step(Next::answer);
      return;
    }
    if (res == -ENOBUFS) {
      // Every buffer of the ring is taken: the bytes wait in the socket.
      step(read_more());
      return;
    }
    if (res < 0) {
      step(Next::close);
      return;
    }
    const std::span<const char> data = loop().read_buffer(flags, res);
    core_.receive_and_process(std::string_view(data.data(), data.size()));
    loop().recycle(flags);
    note_progress();
    step(static_cast<std::size_t>(res) == UringLoop::kReadBufferBytes ? read_more() : Next::answer);
  }

  // A full read may have left more behind: take it now, into the thread's
  // buffer, a turn's worth at most (as the Asio connection does).
  Next read_more() {
    const std::span<char> buffer = shell_.registry.read_buffer();
    std::size_t budget = config::kReadBytesPerTurn;
    while (core_.wants_input() && budget > 0) {
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return Next::close;
      }
      if (n == 0) {
        end_input();
        break;
      }
      const auto got = static_cast<std::size_t>(n);
      core_.receive_and_process(std::string_view(buffer.data(), got));
      note_progress();
      if (got < buffer.size()) break;
      budget -= std::min(budget, got);
    }
    return Next::answer;
  }

  void end_input() {
    advance(State::input_ended);
    core_.end_of_input();
    process();
  }

  // A send's completion: go on writing, making
  // more replies as the output drains.
  void after_send(int res) {
    wait_ = Wait::none;
    if (state_ == State::idle_expired) {
      // The client has not taken a byte of our replies for a whole idle period.
      shell_.services.counters.idle_kicks.fetch_add(1, std::memory_order_relaxed);
      step(Next::close);
      return;
    }
    if (res == -ECANCELED && !forced_) {
      step(Next::answer);  // a stop cancelled it unsent: send it again
      return;
    }
    if (res < 0) {
      step(Next::close);
      return;
    }
    core_.consume_output(static_cast<std::size_t>(res));
    last_progress_ = Clock::now();
    if (core_.not_before_unix_ms() == 0) process();
    step(Next::answer);
  }

  // The request in hand goes on at the time the generator named, or after
  // the thread's other connections had their turn.
  void wait_for_ids() {
    wait_ = Wait::ids;
    if (const std::int64_t at = core_.not_before_unix_ms(); at != 0) {
      arm_timer(shell_.services.session.generator.clock().steady_at_unix_ms(at));
    } else {
      take_turn();
    }
  }
  void arm_timer(Clock::time_point at) {
    timer_ = loop().add_timer(at, this, kTimer);
    timer_armed_ = true;
  }
  void take_turn() {
    in_turn_ = true;
    loop().defer(this, kTurn);
  }
  void resume_now() {
    if (closing_) return;
    wait_ = Wait::none;
    if (forced_) {
      step(Next::close);
      return;
    }
    process();
    step(Next::answer);
  }

  void on_timer() {
    if (wait_ == Wait::linger) {
      linger_over_ = true;
      if (lingering_read_) cancel_io();
      return;
    }
    resume_now();
  }

  // Drains what the peer still sends after our last byte, bounded in time
  // and bytes, so closing does not reset the connection under unread replies.
  void linger() {
    ::shutdown(fd_, SHUT_WR);
    wait_ = Wait::linger;
    arm_timer(Clock::now() + config::kLingerTimeout);
    linger_read();
  }
  void linger_read() {
    submit_read(kLinger);
    lingering_read_ = true;
  }
  void on_linger_read(int res, unsigned flags) {
    if (res > 0) {
      loop().recycle(flags);
      drained_ += static_cast<std::uint32_t>(res);
    } else if (res == -ENOBUFS) {
      const std::span<char> sink = shell_.registry.read_buffer();
      const ssize_t n = ::recv(fd_, sink.data(), sink.size(), MSG_DONTWAIT);
      if (n > 0) drained_ += static_cast<std::uint32_t>(n);
      if (n == 0) res = 0;
    }
    if ((res > 0 || res == -ENOBUFS) && drained_ < config::kLingerMaxBytes && !linger_over_ &&
        !forced_ && !closing_) {
      linger_read();
      return;
    }
    if (closing_) return;
    step(Next::close);
  }

  void begin_close() {
    if (closing_) return;
    closing_ = true;
    wait_ = Wait::none;
    if (timer_armed_) {
      loop().cancel_timer(timer_);
      timer_armed_ = false;
    }
    cancel_io();
  }
  bool nothing_pending() const {
    return !reading_ && !sending_ && !lingering_read_ && cancels_ == 0 && !in_turn_ &&
           !timer_armed_;
  }

  // Cancels every operation of this connection in the kernel; each then
  // completes with -ECANCELED (or with what it got first). The cancellation
  // posts a completion of its own, counted until it arrives.
  void cancel_io() {
    if (!reading_ && !sending_ && !lingering_read_) return;
    io_uring_sqe* s = loop().sqe();
    ::io_uring_prep_cancel_fd(s, fd_, IORING_ASYNC_CANCEL_ALL);
    ::io_uring_sqe_set_data64(s, UringLoop::user_data(this, kCancel));
    ++cancels_;
    loop().expect_completion();
  }

  bool client_took_queued_bytes() {
    const int queued = kernel_queued_bytes(fd_);
    const bool took = queued >= 0 && queued < queued_at_last_look_;
    queued_at_last_look_ = queued;
    return took;
  }

  void process() {
    core_.process();
    note_progress();
  }
  void note_progress() {
    if (core_.completed_requests() != completed_) {
      completed_ = core_.completed_requests();
      last_progress_ = Clock::now();
    }
  }

  UringLoop& loop() const { return shell_.loop; }

  // Laid out for size: an idle connection is this object and nothing else.
  ConnectionSlot slot_;  // given back last, once the fd is closed
  int fd_;
  int queued_at_last_look_ = -1;  // kernel_queued_bytes() while a write waits
  session::SessionCore core_;
  UringShell& shell_;
  Clock::time_point last_progress_;  // last complete request, or last byte the client took
  UringLoop::TimerId timer_{};       // valid while timer_armed_
  std::uint64_t completed_ = 0;
  std::uint32_t drained_ = 0;       // bytes lingering took
  State state_ = State::streaming;
  Wait wait_ = Wait::none;
  std::uint16_t cancels_ : 4 = 0;  // cancellations in flight
  bool reading_ : 1 = false;
  bool sending_ : 1 = false;
  bool lingering_read_ : 1 = false;
  bool in_turn_ : 1 = false;
  bool timer_armed_ : 1 = false;
  bool linger_over_ : 1 = false;
  bool forced_ : 1 = false;
  bool closing_ : 1 = false;
};

}  // namespace connection_detail

void start_uring_connection(int fd, bool tcp, ConnectionSlot slot, session::Protocol protocol,
                            UringShell& shell) {
  auto c = std::make_unique<connection_detail::UringConnection>(fd, tcp, std::move(slot), protocol,
                                                                shell);
  c.release()->start();
}

}  // namespace katsubushi::server
