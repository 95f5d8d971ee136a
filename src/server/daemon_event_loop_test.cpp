// The choice of event loops (src/server/event_engine.hpp): katsubushi serves
// on io_uring where the kernel allows it, and runs katsubushi-epoll in its
// place where io_uring is refused or -io-engine epoll asks for it. Run once:
// ctest's second pass of the daemon tests, against katsubushi-epoll, leaves
// these out.
#include <gtest/gtest.h>
#include <liburing.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "id/layout.hpp"
#include "testing/cpus.hpp"
#include "testing/daemon_process.hpp"
#include "testing/loopback_client.hpp"

namespace katsubushi::testing {
namespace {

using namespace std::chrono_literals;

// Whether this process may make an io_uring ring (as the daemon may, unless
// a profile or a sysctl stops both).
bool kernel_allows_io_uring() {
  io_uring ring{};
  if (::io_uring_queue_init(8, &ring, 0) < 0) return false;
  ::io_uring_queue_exit(&ring);
  return true;
}

// The sanitizer stages build katsubushi alone (KATSUBUSHI_EPOLL_BUILD off).
#ifdef KATSUBUSHI_EPOLL_BIN
#define SKIP_WITHOUT_THE_EPOLL_BUILD()
#else
#define SKIP_WITHOUT_THE_EPOLL_BUILD() \
  GTEST_SKIP() << "katsubushi-epoll is not built here; the release stage runs this"
#endif

LaunchOptions io_uring_refused() {
  return {.wrapper = {KATSUBUSHI_NO_IO_URING_BIN}, .fd_limit = {}};
}

// A started daemon's event loop and pid, as its stats give them, after
// checking that it hands out ids of its worker.
struct Served {
  std::string event_loop;
  std::string io_engine;
  std::int64_t pid = 0;
};

Served serve_and_describe(DaemonProcess& daemon, std::uint32_t worker_id) {
  LoopbackClient c;
  EXPECT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
  const auto ids = request_ids(c, "get a b");
  EXPECT_TRUE(ids && ids->size() == 2) << daemon.log();
  if (ids && ids->size() == 2) {
    EXPECT_EQ(id::decode((*ids)[0].id).worker_id, worker_id);
    EXPECT_GT((*ids)[1].id, (*ids)[0].id);
  }
  const auto stats = query_stats(c);
  Served s;
  if (const auto it = stats.find("event_loop"); it != stats.end()) s.event_loop = it->second;
  s.pid = stat_value(stats, "pid");
  EXPECT_TRUE(c.send_all("stats settings\r\n"));
  const std::string reply = c.recv_until("END\r\n").value_or("");
  const std::string key = "STAT io_engine ";
  if (const auto at = reply.find(key); at != std::string::npos) {
    s.io_engine = reply.substr(at + key.size(), reply.find('\r', at) - at - key.size());
  }
  return s;
}

TEST(DaemonEventLoop, ServesOnIoUringWhereTheKernelAllowsIt) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=51", "-threads=2"})) << daemon.log();
  const Served s = serve_and_describe(daemon, 51);
  EXPECT_EQ(s.event_loop, kernel_allows_io_uring() ? "io_uring" : "epoll") << daemon.log();
  EXPECT_EQ(s.io_engine, "auto");
  EXPECT_EQ(s.pid, daemon.pid());
  const auto status = daemon.stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << status->describe() << "\n" << daemon.log();
}

std::string setting(LoopbackClient& c, const std::string& name) {
  EXPECT_TRUE(c.send_all("stats settings\r\n"));
  const std::string reply = c.recv_until("END\r\n").value_or("");
  const std::string key = "STAT " + name + " ";
  const auto at = reply.find(key);
  if (at == std::string::npos) return "(none)";
  return reply.substr(at + key.size(), reply.find('\r', at) - at - key.size());
}

// -spin-wait: on io_uring, requests one at a time on one connection come
// close enough together that the thread spins and they come while it spins;
// with 0 it never spins. epoll never spins. The client and the daemon are on
// different CPUs (testing/cpus.hpp says why), and the client sends 100us
// after each reply, so that each wait is a real one.
TEST(DaemonEventLoop, SpinWaitSpinsBetweenCloseRequestsAndZeroNever) {
  const bool uring = kernel_allows_io_uring();
  const auto cpus = two_cpus();
  if (!cpus) GTEST_SKIP() << "one CPU: no request can come while the daemon spins";
  const PinThisThread pin(cpus->second);
  ASSERT_TRUE(pin.ok());
  for (const std::string wait : {"1ms", "0"}) {
    DaemonProcess daemon;
    ASSERT_TRUE(daemon.start_tcp({"-worker-id=56", "-threads=1", "-spin-wait=" + wait}))
        << daemon.log();
    ASSERT_TRUE(pin_process(daemon.pid(), cpus->first));
    LoopbackClient c;
    ASSERT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
    for (int i = 0; i < 500; ++i) {
      const auto ids = request_ids(c, "get a");
      ASSERT_TRUE(ids && ids->size() == 1) << i << "\n" << daemon.log();
      const auto send_at = std::chrono::steady_clock::now() + 100us;
      while (std::chrono::steady_clock::now() < send_at) {
      }
    }
    const auto stats = query_stats(c);
    EXPECT_EQ(setting(c, "spin_wait"), wait == "0" ? "0s" : wait);
    const std::int64_t hits = stat_value(stats, "spin_hits");
    const std::int64_t misses = stat_value(stats, "spin_misses");
    if (uring && wait != "0") {
      EXPECT_GT(hits, 0) << misses << " misses";
    } else {
      EXPECT_EQ(hits, 0);
      EXPECT_EQ(misses, 0);
    }
    const auto status = daemon.stop(SIGTERM);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->clean()) << status->describe() << "\n" << daemon.log();
  }
}

TEST(DaemonEventLoop, SpinWaitIs50usByDefault) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=57", "-threads=1"})) << daemon.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));
  EXPECT_EQ(setting(c, "spin_wait"), "50us");
  const auto stats = query_stats(c);
  EXPECT_GE(stat_value(stats, "spin_hits"), 0) << "the stat is there";
  EXPECT_GE(stat_value(stats, "spin_misses"), 0) << "the stat is there";
}

// The same process (exec), its arguments and its stop signals.
TEST(DaemonEventLoop, IoEngineEpollRunsTheEpollBuildInTheSameProcess) {
  SKIP_WITHOUT_THE_EPOLL_BUILD();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=52", "-threads=2", "-io-engine=epoll"}))
      << daemon.log();
  const Served s = serve_and_describe(daemon, 52);
  EXPECT_EQ(s.event_loop, "epoll") << daemon.log();
  EXPECT_EQ(s.io_engine, "epoll");
  EXPECT_EQ(s.pid, daemon.pid());
  EXPECT_NE(daemon.log().find("katsubushi-epoll"), std::string::npos) << daemon.log();
  const auto status = daemon.stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << status->describe() << "\n" << daemon.log();
}

// As in a container whose seccomp profile refuses io_uring_setup.
TEST(DaemonEventLoop, RefusedIoUringFallsBackToEpollAndSaysWhy) {
  SKIP_WITHOUT_THE_EPOLL_BUILD();
  DaemonProcess daemon;
  daemon.set_launch_options(io_uring_refused());
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=53", "-threads=2"})) << daemon.log();
  const Served s = serve_and_describe(daemon, 53);
  EXPECT_EQ(s.event_loop, "epoll") << daemon.log();
  EXPECT_EQ(s.io_engine, "auto");
  EXPECT_EQ(s.pid, daemon.pid());
  EXPECT_NE(daemon.log().find("io_uring refused (a serving loop's ring: io_uring_setup: Operation "
                              "not permitted): serving with epoll"),
            std::string::npos)
      << daemon.log();
  const auto status = daemon.stop(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->clean()) << status->describe() << "\n" << daemon.log();
}

TEST(DaemonEventLoop, IoEngineIoUringWhereRefusedIsAStartUpError) {
  const auto r = run_command(daemon_binary(), {"-worker-id=54", "-port=0", "-io-engine=io_uring"},
                             {}, 10s, io_uring_refused());
  ASSERT_TRUE(r.status) << "it started and kept running\n" << r.err;
  EXPECT_TRUE(r.status->exited) << r.status->describe() << "\n" << r.err;
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("-io-engine io_uring: a serving loop's ring: io_uring_setup: "),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("listening"), std::string::npos) << r.err;
}

TEST(DaemonEventLoop, TheEpollBuildRefusesIoEngineIoUring) {
#ifndef KATSUBUSHI_EPOLL_BIN
  SKIP_WITHOUT_THE_EPOLL_BUILD();
#else
  const auto r = run_command(KATSUBUSHI_EPOLL_BIN,
                             {"-worker-id=55", "-port=0", "-io-engine=io_uring"}, {}, 10s);
  ASSERT_TRUE(r.status) << "it started and kept running\n" << r.err;
  EXPECT_TRUE(r.status->exited) << r.status->describe() << "\n" << r.err;
  EXPECT_EQ(r.status->code, 1) << r.err;
  EXPECT_NE(r.err.find("this is katsubushi-epoll"), std::string::npos) << r.err;
#endif
}

// katsubushi copied where no katsubushi-epoll is beside it or in the
// installed place relative to it.
TEST(DaemonEventLoop, AMissingEpollBuildIsAStartUpErrorNamingIt) {
  const TempDir dir;
  const std::filesystem::path copy = dir.path() / "bin" / "katsubushi";
  std::filesystem::create_directories(copy.parent_path());
  std::filesystem::copy_file(daemon_binary(), copy);
  const auto r =
      run_command(copy.string(), {"-worker-id=56", "-port=0", "-io-engine=epoll"}, {}, 10s);
  ASSERT_TRUE(r.status) << "it started and kept running\n" << r.err;
  EXPECT_TRUE(r.status->exited) << r.status->describe() << "\n" << r.err;
  EXPECT_EQ(r.status->code, 1) << r.err;
  const std::string expected =
      (dir.path() / "libexec" / "katsubushi" / "katsubushi-epoll").string() +
      ": No such file or directory";
  EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
}

}  // namespace
}  // namespace katsubushi::testing
