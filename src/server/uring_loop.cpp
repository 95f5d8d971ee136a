#include "server/uring_loop.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <system_error>

namespace katsubushi::server {

namespace {

[[noreturn]] void throw_errno(int err, const char* what) {
  throw std::system_error(err, std::generic_category(), what);
}

void log_failure(std::size_t index, const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("thread {}: a handler failed: {}; serving on", index, ex.what());
  } catch (...) {
    spdlog::error("thread {}: a handler failed with an unknown exception; serving on", index);
  }
}

}  // namespace

UringLoop::UringLoop(unsigned read_buffers, SpinWaitOptions spin)
    : read_buffers_(read_buffers), spin_options_(spin), spin_(spin.limit) {
  if (read_buffers_ == 0 || (read_buffers_ & (read_buffers_ - 1)) != 0 || read_buffers_ > 32768) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "read buffers: a power of two up to 32768");
  }
  io_uring_params params{};
  // One thread submits (and only it), completions run when it asks for
  // them, a failed submission does not stop the ones after it, and the
  // completion queue has room for every reply and read of a full batch.
  // Pending completion work raises a flag in the ring the thread can watch
  // while it spins (Linux 5.19, as the buffer ring).
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_TASKRUN_FLAG;
  params.cq_entries = kEntries * 4;
  if (const int r = ::io_uring_queue_init_params(kEntries, &ring_, &params); r < 0) {
    throw_errno(-r, "io_uring_setup");
  }
  ring_made_ = true;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::io_uring_queue_exit(&ring_);
    ring_made_ = false;
    throw_errno(err, "eventfd");
  }
}

UringLoop::~UringLoop() {
  if (ring_made_) ::io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) ::munmap(buf_ring_, buf_ring_bytes());
  delete[] buffers_;
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void UringLoop::start() {
  if (started_) return;
  // liburing 2.3 declares io_uring_enable_rings() but does not export it.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg)
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
      0) {
    throw_errno(errno, "enabling the ring");
  }
  constexpr unsigned kNeeded = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG | IORING_FEAT_CQE_SKIP;
  if ((ring_.features & kNeeded) != kNeeded) {
    throw std::system_error(EOPNOTSUPP, std::generic_category(),
                            "the ring lacks a feature (no-drop, wait with a timeout, skipped "
                            "completions: Linux 5.17 or later)");
  }
  void* mem =
      ::mmap(nullptr, buf_ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw_errno(errno, "mapping the buffer ring");
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(buf_ring_);
  reg.ring_entries = read_buffers_;
  reg.bgid = kBufferGroup;
  if (const int r = ::io_uring_register_buf_ring(&ring_, &reg, 0); r < 0) {
    throw_errno(-r, "registering the read buffers (Linux 5.19 or later)");
  }
  buffers_ = new char[static_cast<std::size_t>(read_buffers_) * kReadBufferBytes];
  ::io_uring_buf_ring_init(buf_ring_);
  const int mask = ::io_uring_buf_ring_mask(read_buffers_);
  for (unsigned i = 0; i < read_buffers_; ++i) {
    ::io_uring_buf_ring_add(buf_ring_, buffers_ + static_cast<std::size_t>(i) * kReadBufferBytes,
                            kReadBufferBytes, static_cast<unsigned short>(i), mask,
                            static_cast<int>(i));
  }
  ::io_uring_buf_ring_advance(buf_ring_, static_cast<int>(read_buffers_));
  started_ = true;
  arm_wake();
}

std::optional<std::string> UringLoop::refusal() {
  try {
    UringLoop loop;
    loop.start();
    io_uring_probe* probe = ::io_uring_get_probe_ring(&loop.ring_);
    if (probe == nullptr) return "the kernel does not list its io_uring operations";
    std::optional<std::string> why;
    static constexpr std::array kOps = {IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READ,
                                        IORING_OP_ASYNC_CANCEL};
    for (const int op : kOps) {
      if (::io_uring_opcode_supported(probe, op) == 0) {
        why = "the kernel lacks io_uring operation " + std::to_string(op);
        break;
      }
    }
    ::io_uring_free_probe(probe);
    return why;
  } catch (const std::system_error& e) {
    return std::string(e.what());
  }
}

void UringLoop::post(std::function<void()> task) {
  bool first = false;
  {
    const std::lock_guard lock(tasks_mutex_);
    first = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  if (first) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

void UringLoop::release() {
  released_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

io_uring_sqe* UringLoop::sqe() {
  io_uring_sqe* s = ::io_uring_get_sqe(&ring_);
  if (s == nullptr) {
    ::io_uring_submit(&ring_);
    s = ::io_uring_get_sqe(&ring_);
    if (s == nullptr) throw std::runtime_error("the io_uring submission queue stays full");
  }
  return s;
}

void UringLoop::arm_wake() {
  io_uring_sqe* s = sqe();
  ::io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  ::io_uring_sqe_set_data64(s, user_data(this, kWake));
  wake_armed_ = true;
}

std::span<const char> UringLoop::read_buffer(unsigned flags, int len) const {
  const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
  return {buffers_ + static_cast<std::size_t>(bid) * kReadBufferBytes,
          static_cast<std::size_t>(len)};
}

void UringLoop::recycle(unsigned flags) {
  const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
  ::io_uring_buf_ring_add(buf_ring_, buffers_ + static_cast<std::size_t>(bid) * kReadBufferBytes,
                          kReadBufferBytes, static_cast<unsigned short>(bid),
                          ::io_uring_buf_ring_mask(read_buffers_), 0);
  ::io_uring_buf_ring_advance(buf_ring_, 1);
}

void UringLoop::every(Clock::duration period, std::function<void()> tick) {
  tick_ = std::move(tick);
  tick_period_ = period;
  tick_timer_ = add_timer(Clock::now() + period, this, kTick);
}

void UringLoop::on_completion(unsigned op, int /*res*/, unsigned /*flags*/) {
  if (op == kWake) {
    wake_armed_ = false;
    arm_wake();  // what was posted runs at the top of the next turn
    return;
  }
  if (op == kTick) {
    tick_timer_.reset();
    if (released_.load()) return;
    tick_();
    if (!released_.load()) tick_timer_ = add_timer(Clock::now() + tick_period_, this, kTick);
  }
}

bool UringLoop::work_ready() {
  // A completion posted, or completion work queued for this thread (the
  // kernel raises IORING_SQ_TASKRUN until the thread next enters the ring).
  return ::io_uring_cq_ready(&ring_) != 0 ||
         (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

void UringLoop::spin_before_waiting(std::optional<Clock::time_point> until) {
  if (!spin_.wants_spin()) {
    // The wait's own call submits: no call more than with no spinning.
    if (spin_.limit() != Clock::duration::zero()) spin_.slept();
    return;
  }
  // What the turn queued goes out first; a completion it brought at once
  // (a reply sent at once) means no wait, and no spin.
  ::io_uring_submit(&ring_);
  if (work_ready()) return;
  auto now = Clock::now();
  if (until && *until <= now) return;  // a timer is due: no wait either
  const auto spin = spin_.limit();
  const auto stop = until ? std::min(*until, now + spin) : now + spin;
  for (unsigned round = 0;; ++round) {
    if (work_ready()) {
      spin_.spun(true);
      if (spin_options_.hits != nullptr) {
        spin_options_.hits->fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
    // The clock every few rounds: the ring is the cheaper look.
    if (round % 8 == 7 && (now = Clock::now()) >= stop) break;
  }
  spin_.spun(false);
  if (spin_options_.misses != nullptr) {
    spin_options_.misses->fetch_add(1, std::memory_order_relaxed);
  }
}

void UringLoop::run_tasks() {
  std::vector<std::function<void()>> tasks;
  {
    const std::lock_guard lock(tasks_mutex_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

void UringLoop::run_due_timers() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const auto [h, op] = timers_.begin()->second;
    timers_.erase(timers_.begin());
    h->on_completion(op, 0, 0);
  }
}

void UringLoop::run_turns() {
  std::vector<std::pair<UringHandler*, unsigned>> turns;
  turns.swap(turns_);
  for (const auto& [h, op] : turns) h->on_completion(op, 0, 0);
}

void UringLoop::dispatch(std::uint64_t data, int res, unsigned flags) {
  // user_data() made `data` of a handler's address: this is the way back.
  auto* h = reinterpret_cast<UringHandler*>(  // NOLINT(performance-no-int-to-ptr)
      static_cast<std::uintptr_t>(data & ~std::uint64_t{kTagMask}));
  h->on_completion(static_cast<unsigned>(data & kTagMask), res, flags);
}

bool UringLoop::out_of_work() const {
  if (!released_.load() || in_flight_ != 0 || !timers_.empty() || !turns_.empty()) return false;
  const std::lock_guard lock(const_cast<std::mutex&>(tasks_mutex_));
  return tasks_.empty();
}

void UringLoop::run(std::size_t index) {
  start();
  constexpr unsigned kBatch = 64;
  std::array<io_uring_cqe*, kBatch> cqes{};
  struct Done {
    std::uint64_t data;
    int res;
    unsigned flags;
  };
  std::array<Done, kBatch> done{};
  for (;;) {
    // Each step of a turn catches its own failures: one handler that throws
    // must not end the thread, nor skip the others' completions.
    for (auto step : {&UringLoop::run_tasks, &UringLoop::run_due_timers, &UringLoop::run_turns}) {
      try {
        (this->*step)();
      } catch (...) {
        log_failure(index, std::current_exception());
      }
    }
    if (released_.load() && tick_timer_) {
      cancel_timer(*tick_timer_);
      tick_timer_.reset();
    }
    if (out_of_work()) return;
    __kernel_timespec ts{};
    __kernel_timespec* wait_at_most = nullptr;
    if (!turns_.empty()) {
      wait_at_most = &ts;  // submit, take what is ready, and go on
    } else if (!timers_.empty()) {
      const auto left = std::max(Clock::duration::zero(), timers_.begin()->first - Clock::now());
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count() + 1;
      ts.tv_sec = ns / 1'000'000'000;
      ts.tv_nsec = ns % 1'000'000'000;
      wait_at_most = &ts;
    }
    io_uring_cqe* first = nullptr;
    if (wait_at_most != nullptr && ts.tv_sec == 0 && ts.tv_nsec == 0) {
      ::io_uring_submit_and_get_events(&ring_);
    } else {
      std::optional<Clock::time_point> until;
      if (!timers_.empty()) until = timers_.begin()->first;
      spin_before_waiting(until);
      ::io_uring_submit_and_wait_timeout(&ring_, &first, 1, wait_at_most, nullptr);
    }
    for (;;) {
      const unsigned n = ::io_uring_peek_batch_cqe(&ring_, cqes.data(), kBatch);
      for (unsigned i = 0; i < n; ++i) {
        done[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
      }
      ::io_uring_cq_advance(&ring_, n);
      for (unsigned i = 0; i < n; ++i) {
        try {
          dispatch(done[i].data, done[i].res, done[i].flags);
        } catch (...) {
          log_failure(index, std::current_exception());
        }
      }
      if (n < kBatch) break;
    }
  }
}

}  // namespace katsubushi::server
