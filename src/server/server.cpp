// Start-up and the run: the parts (event loops, listeners, gRPC) are made
// here, the jobs started, and systemd told where the daemon listens.
#include "server/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "service/session_limits.hpp"
#include "grpc/grpc_front.hpp"
#include "process/stop_signals.hpp"
#include "server/uring_connection.hpp"
#include "server/uring_loop.hpp"
#include "version.hpp"

namespace katsubushi::server {

namespace asio = boost::asio;

Server::Server(const config::Config& config, id::IdGenerator& generator)
    : config_(config),
      generator_(generator),
      stats_(config, generator, counters_, protocol_counters_),
      connection_services_{
          .session = {.generator = generator,
                      .counters = protocol_counters_,
                      .stats = &stats_,
                      .version = kVersion},
          .limits = service::session_limits(config),
          .counters = counters_,
      },
      open_connections_(counters_.curr_connections),
      workers_(make_workers(config.threads, {.limit = config.spin_wait,
                                             .hits = &counters_.spin_hits,
                                             .misses = &counters_.spin_misses})),
      signals_(workers_[0]->io),
      listeners_(workers_[0]->io),
      drain_timer_(workers_[0]->io) {
  // A client that resets while we write must be an error code, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  // Handlers go in before the port opens: a stop signal (systemd stopping a
  // unit it just started) must find them there, or it kills the process and
  // resets the clients already queued.
  for (int sig : process::kStopSignals) {
    boost::system::error_code ec;
    signals_.add(sig, ec);
    if (ec) {
      throw std::runtime_error("installing the handler for signal " + std::to_string(sig) +
                               ": " + ec.message());
    }
  }
  for (auto& w : workers_) {
    if (w->loop) {
      w->shell = std::make_unique<UringShell>(UringShell{connection_services_, w->registry, *w->loop});
    }
  }
  // Held back since the process began (katsubushi_main.cpp): one that came
  // meanwhile is delivered now, to the handlers.
  process::unblock_stop_signals();
}

Server::~Server() {
  if (grpc_) grpc_->join();
}

void Server::listen() {
  activated_ = process::systemd::take_activated_sockets();
  listeners_.open(config_, activated_);
  if (listeners_.grpc_acceptor.is_open()) {
    // gRPC's threads: a poller or two and the calls in flight, which are
    // short (a wait for the next millisecond at most).
    grpc_ = std::make_unique<GrpcHandoff>(
        std::make_unique<grpcapi::GrpcFront>(
            generator_, protocol_counters_, stats_,
            grpcapi::GrpcOptions{.idle_timeout = config_.idle_timeout,
                                 .max_threads = static_cast<int>(config_.threads) + 2}),
        open_connections_);
  }
}

std::string Server::listening_summary() const {
  return "worker id " + std::to_string(generator_.worker_id()) + ", " + listeners_.summary();
}

int Server::run() {
  asio::co_spawn(workers_[0]->io, wait_for_signals(), asio::detached);
  start_accepting();
  for (auto& w : workers_) start_sweep(*w);

  // Loop 0, the control loop, runs on this thread; the others serve. Each
  // says it serves before any client is accepted (the control loop accepts).
  std::vector<std::thread> threads;
  std::vector<std::future<std::string>> started;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    w.hold();
    std::promise<std::string> serving;
    started.push_back(serving.get_future());
    threads.emplace_back(
        [&w, serving = std::move(serving)]() mutable { run_serving_loop(w, serving); });
  }
  std::string failure;
  for (std::size_t i = 0; i < started.size(); ++i) {
    if (std::string why = started[i].get(); !why.empty() && failure.empty()) {
      failure = "thread " + std::to_string(i + 1) + ": " + why;
    }
  }
  if (!failure.empty()) {
    spdlog::error("an event loop cannot start ({}): exiting", failure);
    for (auto& w : workers_) w->release();
    for (auto& t : threads) t.join();
    return 1;
  }
  // Listening since listen(), and the accept loops start with the control
  // loop: systemd may send clients now. The watchdog, if systemd asks for
  // one, pings while every loop answers.
  process::systemd::notify("READY=1\nSTATUS=serving ids as " + listening_summary());
  if (const auto interval = process::systemd::watchdog_interval()) {
    std::vector<process::LoopWatchdog::Post> serving;
    for (std::size_t i = 1; i < workers_.size(); ++i) {
      serving.emplace_back([&w = *workers_[i]](std::function<void()> task) { w.post(std::move(task)); });
    }
    watchdog_ = std::make_unique<process::LoopWatchdog>(workers_[0]->io, std::move(serving), *interval,
                                               [] { process::systemd::notify("WATCHDOG=1"); });
    watchdog_->start();
    spdlog::info("systemd watchdog: pinging every {} ms while every event loop answers",
                 std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 2).count());
  }
  run_event_loop(workers_[0]->io, 0);
  for (auto& t : threads) t.join();
  if (grpc_) grpc_->join();

  listeners_.remove_socket_file();
  spdlog::info("shutdown complete: {} ids issued", generator_.counters().ids_issued);
  return 0;
}

}  // namespace katsubushi::server
