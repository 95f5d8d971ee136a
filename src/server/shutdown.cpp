// Graceful shutdown: a stop signal or stop() closes the listeners, asks every
// connection to finish what it has in hand, and waits for them until
// -shutdown-timeout, then closes what is left. A second signal exits at once.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "config/limits.hpp"
#include "server/deadline.hpp"
#include "server/server.hpp"

namespace katsubushi::server {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

asio::awaitable<void> Server::wait_for_signals() {
  auto [ec, sig] = co_await signals_.async_wait(use_tuple);
  if (ec) co_return;
  begin_shutdown("signal " + std::to_string(sig));
  // A second signal means "now".
  auto [ec2, sig2] = co_await signals_.async_wait(use_tuple);
  if (ec2) co_return;
  spdlog::warn("signal {} during shutdown: exiting at once", sig2);
  spdlog::default_logger()->flush();
  std::_Exit(1);
}

void Server::stop() {
  asio::post(workers_[0]->io, [this] { begin_shutdown("stop requested"); });
}

void Server::begin_shutdown(const std::string& why) {
  if (stopping_.exchange(true)) return;
  spdlog::info("shutting down ({}): {} connections open", why, open_connections_.count());
  process::systemd::notify("STOPPING=1\nSTATUS=shutting down (" + why + "): " +
                  std::to_string(open_connections_.count()) + " connections open");
  if (watchdog_) watchdog_->draining();
  listeners_.close();
  drain_deadline_ = saturating_add(
      SteadyClock::now(),
      std::chrono::duration_cast<SteadyClock::duration>(config_.shutdown_timeout));
  for (auto& w : workers_) {
    w->post([&w = *w] {
      w.registry.stop_all();
      if (w.sweeper) w.sweeper->cancel();
    });
    w->release();
  }
  if (grpc_) {
    // gRPC's calls in flight finish within kGrpcStopGrace (and the same
    // deadline); then gRPC closes its connections, so one whose client
    // ignores GOAWAY does not hold the stop for all of -shutdown-timeout.
    // The control loop gives back their slots when gRPC's stop returns.
    const auto left = std::clamp<SteadyClock::duration>(
        drain_deadline_ - SteadyClock::now(), SteadyClock::duration::zero(),
        std::chrono::duration_cast<SteadyClock::duration>(config::kGrpcStopGrace));
    grpc_->stop(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(left),
                workers_[0]->io);
  }
  // The last connection to close, on whatever thread, wakes drain().
  open_connections_.watch(
      [this] { asio::post(workers_[0]->io, [this] { drain_timer_.cancel(); }); });
  // Posted, not spawned here: co_spawn runs drain() inline on this thread, and
  // with no connection left it would cancel the signal wait before
  // wait_for_signals has issued its second one, which then kept run() alive.
  asio::post(workers_[0]->io,
             [this] { asio::co_spawn(workers_[0]->io, drain(), asio::detached); });
}

asio::awaitable<void> Server::drain() {
  drain_timer_.expires_at(drain_deadline_);
  bool forced = false;
  while (open_connections_.count() > 0) {
    co_await drain_timer_.async_wait(use_tuple);
    if (!forced && SteadyClock::now() >= drain_deadline_ && open_connections_.count() > 0) {
      forced = true;
      spdlog::warn("-shutdown-timeout reached: closing {} connections", open_connections_.count());
      for (auto& w : workers_) {
        w->post([&r = w->registry] { r.force_close_all(); });
      }
      drain_timer_.expires_at(SteadyClock::time_point::max());
    }
  }
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  if (watchdog_) watchdog_->stop();
}

}  // namespace katsubushi::server
