// The io_uring serving loop on its own: what is posted runs on its thread,
// timers fire in order, and connections are served when every read buffer
// of its ring is taken (reads then come from the socket directly). Skipped
// where the kernel refuses the loop (the daemon then runs katsubushi-epoll).
#include "server/uring_loop.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "id/generator.hpp"
#include "id/manual_clock.hpp"
#include "server/connection.hpp"
#include "server/uring_connection.hpp"
#include "service/session_limits.hpp"
#include "service/stats.hpp"
#include "testing/cpus.hpp"

namespace katsubushi::server {
namespace {

using namespace std::chrono_literals;

#define SKIP_WHERE_REFUSED()                                         \
  do {                                                               \
    if (const auto why = UringLoop::refusal()) GTEST_SKIP() << *why; \
  } while (0)

class Recorder final : public UringHandler {
 public:
  void on_completion(unsigned op, int /*res*/, unsigned /*flags*/) override { ops.push_back(op); }
  std::vector<unsigned> ops;
};

TEST(UringLoop, PostedTasksRunOnItsThreadAndReleaseEndsTheRun) {
  SKIP_WHERE_REFUSED();
  UringLoop loop;
  std::atomic<int> ran{0};
  std::thread::id loop_thread;
  std::thread t([&] {
    loop_thread = std::this_thread::get_id();
    loop.run(1);
  });
  std::atomic<bool> all_on_loop{true};
  for (int i = 0; i < 100; ++i) {
    loop.post([&] {
      if (std::this_thread::get_id() != loop_thread) all_on_loop = false;
      ++ran;
    });
  }
  while (ran.load() < 100) std::this_thread::sleep_for(1ms);
  loop.release();
  t.join();  // hangs (and the test times out) if release does not end the run
  EXPECT_EQ(ran.load(), 100);
  EXPECT_TRUE(all_on_loop.load());
}

TEST(UringLoop, TimersFireInTheOrderOfTheirTimesAndACancelledOneNever) {
  SKIP_WHERE_REFUSED();
  UringLoop loop;
  Recorder r;
  loop.post([&] {
    const auto now = UringLoop::Clock::now();
    loop.add_timer(now + 30ms, &r, 3);
    loop.add_timer(now + 10ms, &r, 1);
    const auto cancelled = loop.add_timer(now + 20ms, &r, 2);
    loop.add_timer(now + 20ms, &r, 5);
    loop.cancel_timer(cancelled);
    loop.defer(&r, 0);
  });
  loop.release();  // the run goes on while timers are armed
  std::thread t([&] { loop.run(1); });
  t.join();
  EXPECT_EQ(r.ops, (std::vector<unsigned>{0, 1, 5, 3}));
}

// 16 connections whose requests all arrive at once, on a loop with 2 read
// buffers: most reads find none left and must read from the socket.
TEST(UringLoop, ServesEveryConnectionWhenTheReadBuffersRunOut) {
  SKIP_WHERE_REFUSED();
  id::ManualClock clock;
  id::IdGenerator generator(clock, 7);
  service::ProtocolCounters protocol_counters;
  ServerCounters counters;
  ConnectionServices services{
      .session = {.generator = generator, .counters = protocol_counters},
      .limits = {},
      .counters = counters,
  };
  ConnectionRegistry registry;
  OpenConnections open(counters.curr_connections);
  UringLoop loop(2);
  UringShell shell{services, registry, loop};

  constexpr int kConns = 16;
  std::array<int, kConns> clients{};
  for (int& client : clients) {
    std::array<int, 2> fds{};
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()), 0);
    client = fds[0];
    loop.post([&, server = fds[1]] {
      start_uring_connection(server, false, ConnectionSlot(open), session::Protocol::undecided,
                             shell);
    });
  }
  for (const int client : clients) {
    const std::string get = "get id\r\n";
    ASSERT_EQ(::write(client, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  }
  std::thread t([&] { loop.run(1); });
  std::set<std::string> ids;
  for (const int client : clients) {
    std::string reply;
    std::array<char, 256> buf{};
    while (reply.find("END\r\n") == std::string::npos) {
      const ssize_t n = ::read(client, buf.data(), buf.size());
      ASSERT_GT(n, 0) << "reply so far: " << reply;
      reply.append(buf.data(), static_cast<std::size_t>(n));
    }
    ASSERT_EQ(reply.rfind("VALUE id 0 ", 0), 0U) << reply;
    ids.insert(reply);
    ::close(client);  // the connection ends when it reads the end of input
  }
  loop.release();
  t.join();  // every connection closed, or this hangs
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kConns));
  EXPECT_EQ(counters.live_sessions.load(), 0);
  EXPECT_EQ(counters.curr_connections.load(), 0);
  EXPECT_EQ(registry.size(), 0U);
}

// Which of the next `n` waits the policy lets spin, spinning with `hit`.
std::string spins_of(SpinWaitPolicy& p, int n, bool hit) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (p.wants_spin()) {
      out += hit ? 'H' : 'M';
      p.spun(hit);
    } else {
      out += '.';
      p.slept();
    }
  }
  return out;
}

TEST(SpinWaitPolicy, SpinsWhileHalfItsSpinsFoundWorkOrTheLastOneDid) {
  SpinWaitPolicy p(50us);
  // Made as if idle: every eighth wait spins, to see; a spin that finds work
  // is followed by another.
  EXPECT_EQ(spins_of(p, 16, false), ".......M.......M");
  EXPECT_EQ(spins_of(p, 10, true), ".......HHH");
  // Six hits in a row make half the score: from then on it spins, misses
  // or not, until misses bring the score under half.
  EXPECT_EQ(spins_of(p, 3, true), "HHH");
  EXPECT_GE(p.score(), SpinWaitPolicy::kScale / 2);
  EXPECT_EQ(spins_of(p, 12, false), "M.......M...");
  EXPECT_LT(p.score(), SpinWaitPolicy::kScale / 2);
  // Work in three waits of four keeps it spinning; in one of four, it spins
  // after each hit and every eighth wait only.
  SpinWaitPolicy q(50us);
  int spins = 0;
  for (int i = 0; i < 400; ++i) {
    if (q.wants_spin()) {
      q.spun(++spins % 4 != 0);
    } else {
      q.slept();
    }
  }
  EXPECT_GE(q.score(), SpinWaitPolicy::kScale / 2);
  EXPECT_EQ(spins_of(q, 8, true), "HHHHHHHH");
  spins = 0;
  for (int i = 0; i < 400; ++i) {
    if (q.wants_spin()) {
      q.spun(++spins % 4 == 0);
    } else {
      q.slept();
    }
  }
  EXPECT_LT(q.score(), SpinWaitPolicy::kScale / 2);
  EXPECT_LT(spins, 200) << "of 400 waits";
}

// At one connection every other wait is a reply's completion, there at
// once: the loop asks, submits, finds it and does not spin. Such a wait
// leaves a due probe due, so the probe lands on the next real wait and not,
// eight waits on, on the same kind of wait again.
TEST(SpinWaitPolicy, AProbeAWaitDidNotUseStaysDue) {
  SpinWaitPolicy p(50us);
  EXPECT_EQ(spins_of(p, 7, false), ".......");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(p.wants_spin()) << "asked, unused: still due";
  EXPECT_EQ(spins_of(p, 1, true), "H");
  // Waits that alternate, found at once (asked, unused) and real: the real
  // ones spin from the first probe on while they hit.
  SpinWaitPolicy q(50us);
  std::string real;
  for (int i = 0; i < 40; ++i) {
    if (i % 2 == 0) {
      if (!q.wants_spin()) q.slept();  // work at once: a spin would not ask
    } else {
      real += spins_of(q, 1, true);
    }
  }
  EXPECT_EQ(real, "...HHHHHHHHHHHHHHHHH");
}

TEST(SpinWaitPolicy, NoLimitNeverSpins) {
  for (const auto limit : {0ns, -1ns}) {
    SpinWaitPolicy p(limit);
    EXPECT_EQ(p.limit(), 0ns);
    EXPECT_EQ(spins_of(p, 100, true), std::string(100, '.'));
  }
}

// A task posted 100us after the last one ran, from another CPU: the loop's
// waits are short, so it spins and the work comes while it spins; once the
// posts stop, it spins before a few ticks more, then before one tick in
// eight. With no limit it never spins.
// - The poster is on a CPU of its own, as a client the spin is for: the
//   scheduler would otherwise wake the loop beside it, where it can never
//   post while the loop spins (with a busy neighbour, every probe missed).
// - The pause makes every wait a real one: a post made before the loop
//   looked would leave it nothing to spin for.
TEST(UringLoop, SpinsBetweenCloseTasksAndNotWhenIdle) {
  SKIP_WHERE_REFUSED();
  const auto cpus = testing::two_cpus();
  if (!cpus) GTEST_SKIP() << "one CPU: nothing can come while the loop spins";
  for (const auto limit : {std::chrono::nanoseconds(1ms), std::chrono::nanoseconds(0)}) {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    UringLoop loop(UringLoop::kReadBuffers, {.limit = limit, .hits = &hits, .misses = &misses});
    // A tick, as the daemon's idle sweep: each ends a long wait, and after a
    // few the average is past the limit.
    loop.post([&] { loop.every(20ms, [] {}); });
    std::thread t([&] {
      const testing::PinThisThread pin(cpus->first);
      EXPECT_TRUE(pin.ok());
      loop.run(1);
    });
    std::atomic<int> ran{0};
    std::thread poster([&] {
      const testing::PinThisThread pin(cpus->second);
      EXPECT_TRUE(pin.ok());
      for (int i = 1; i <= 300; ++i) {
        loop.post([&] { ++ran; });
        while (ran.load() < i) {  // no yield: that would hand the CPU over
        }
        const auto post_at = std::chrono::steady_clock::now() + 100us;
        while (std::chrono::steady_clock::now() < post_at) {
        }
      }
    });
    poster.join();
    std::this_thread::sleep_for(500ms);  // the score falls in six ticks, 25 pass
    const std::uint64_t hits_then = hits.load();
    const std::uint64_t misses_then = misses.load();
    std::this_thread::sleep_for(320ms);  // 16 ticks: 2 or 3 of them spin
    EXPECT_EQ(hits.load(), hits_then) << "idle: no work came";
    EXPECT_LE(misses.load() - misses_then, 3U) << "idle, yet it spins at every tick";
    loop.release();
    t.join();
    if (limit > 0ns) {
      EXPECT_GT(hits_then, 0U) << "300 close tasks, " << misses_then << " spins missed";
    } else {
      EXPECT_EQ(hits_then + misses_then, 0U);
    }
  }
}

}  // namespace
}  // namespace katsubushi::server
