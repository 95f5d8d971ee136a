#include "server/workers.hpp"

#include <boost/asio/post.hpp>

#include "server/event_engine.hpp"
#include "server/uring_connection.hpp"
#include "server/uring_loop.hpp"

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace katsubushi::server {

namespace {

// Go programs raise their soft fd limit to the hard one at start, and so does
// go-katsubushi: do the same, so the limit an operator sees is the one in force.
rlimit raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return lim;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      spdlog::debug("raised the fd limit from {} to {}", lim.rlim_cur, raised.rlim_cur);
      return raised;
    }
  }
  return lim;
}

std::string fd_limit_text(const rlimit& lim) {
  return lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(lim.rlim_cur);
}

// File descriptors open in this process now, or 0 if unknown.
std::size_t open_fd_count() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // less the iterator's own
}

// Each thread's event loop takes its fds (kFdsPerEventLoop: a ring and an
// eventfd, or an epoll fd, an eventfd and a timerfd); the signal set takes a
// pipe, the listeners one fd each, and at least one connection should fit. Checked
// before any is made, so the message can name the numbers; an allocation
// failing anyway is caught below.
constexpr std::size_t kFdsPerThread = kFdsPerEventLoop;
constexpr std::size_t kFdsBesideThreads = 2 + 2 + 1;

}  // namespace

// Sockets and their coroutines are allocated on the serving threads, not on
// the control loop's, so the reactor's per-socket records (which Asio pools
// and never frees) stay packed together instead of pinning, here and there,
// pages that connections freed.
std::vector<std::unique_ptr<Worker>> make_workers(unsigned threads, SpinWaitOptions spin) {
  const rlimit fd_limit = raise_fd_limit();
  const unsigned n = std::max(1u, threads) + 1;
  const std::string advice = " (open file limit " + fd_limit_text(fd_limit) + ", " +
                             std::to_string(kFdsPerThread) +
                             " per thread): lower -threads or raise the limit";
  const std::size_t needed = open_fd_count() + kFdsPerThread * n + kFdsBesideThreads;
  if (fd_limit.rlim_cur != RLIM_INFINITY && needed > fd_limit.rlim_cur) {
    throw std::runtime_error("-threads " + std::to_string(n - 1) + " needs " +
                             std::to_string(needed) + " file descriptors to start" + advice);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < n; ++i) {
    try {
      workers.push_back(
          std::make_unique<Worker>(i, i > 0 && kBuiltEngine == EventEngine::io_uring, spin));
    } catch (const std::exception&) {
      throw std::runtime_error("-threads " + std::to_string(n - 1) +
                               ": creating the event loop of thread " + std::to_string(i + 1) +
                               " failed" + advice);
    }
  }
  return workers;
}

Worker::Worker(std::size_t thread_index, bool own_loop, SpinWaitOptions spin)
    : index(thread_index) {
  if (own_loop) {
    loop = std::make_unique<UringLoop>(UringLoop::kReadBuffers, spin);
  } else {
    reactor_primer.emplace(io);
    sweeper.emplace(io);
  }
}

Worker::~Worker() = default;

void Worker::post(std::function<void()> task) {
  if (loop) {
    loop->post(std::move(task));
  } else {
    boost::asio::post(io, std::move(task));
  }
}

void Worker::hold() {
  if (!loop) guard.emplace(io.get_executor());
}

void Worker::release() {
  if (loop) {
    loop->release();
  } else {
    guard.reset();
  }
}

void run_serving_loop(Worker& w, std::promise<std::string>& started) {
  if (!w.loop) {
    started.set_value("");
    run_event_loop(w.io, w.index);
    return;
  }
  try {
    w.loop->start();
  } catch (const std::exception& e) {
    started.set_value(e.what());
    return;
  }
  started.set_value("");
  w.loop->run(w.index);
}

void run_event_loop(boost::asio::io_context& io, std::size_t index) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("thread {}: a handler failed: {}; serving on", index, e.what());
    } catch (...) {
      spdlog::error("thread {}: a handler failed with an unknown exception; serving on", index);
    }
  }
}

}  // namespace katsubushi::server
