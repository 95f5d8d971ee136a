// Name lookup under a deadline, with getaddrinfo() replaced by fakes: no
// lookup here reaches a resolver, a file or the network.
#include "client/resolve.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

namespace katsubushi::client {
namespace {

using std::chrono::milliseconds;

// A name lookup that waits until the test lets it go (a resolver that does
// not answer); numbers are refused as getaddrinfo() refuses a name under
// AI_NUMERICHOST. Static: the abandoned lookup's thread may use it after
// the test has returned.
struct StuckResolver {
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;  // guarded by mutex
  std::atomic<int> lookups{0};
  std::atomic<bool> returned{false};

  void release() {
    const std::lock_guard lock(mutex);
    released = true;
    released_cv.notify_all();
  }
};
StuckResolver stuck;

int stuck_lookup(const char* /*host*/, const char* /*service*/, const addrinfo* hints,
                 addrinfo** result) {
  *result = nullptr;
  if ((hints->ai_flags & AI_NUMERICHOST) != 0) return EAI_NONAME;
  ++stuck.lookups;
  {
    std::unique_lock lock(stuck.mutex);
    stuck.released_cv.wait(lock, [] { return stuck.released; });
  }
  stuck.returned = true;
  return EAI_AGAIN;
}

// Numbers through the real getaddrinfo() (which needs nothing for them);
// any other lookup is counted and refused.
std::atomic<int> name_lookups{0};
int numbers_only_lookup(const char* host, const char* service, const addrinfo* hints,
                        addrinfo** result) {
  if ((hints->ai_flags & AI_NUMERICHOST) != 0) return ::getaddrinfo(host, service, hints, result);
  ++name_lookups;
  *result = nullptr;
  return EAI_FAIL;
}

// A name that resolves to 127.0.0.1, as the system would answer it.
int name_lookup(const char* host, const char* service, const addrinfo* hints, addrinfo** result) {
  if ((hints->ai_flags & AI_NUMERICHOST) != 0) return ::getaddrinfo(host, service, hints, result);
  if (std::string_view(host) != "ids.test") return EAI_NONAME;
  addrinfo numeric = *hints;
  numeric.ai_flags |= AI_NUMERICHOST;
  return ::getaddrinfo("127.0.0.1", service, &numeric, result);
}

int refusing_lookup(const char* /*host*/, const char* /*service*/, const addrinfo* hints,
                    addrinfo** result) {
  *result = nullptr;
  return (hints->ai_flags & AI_NUMERICHOST) != 0 ? EAI_NONAME : EAI_FAIL;
}

std::uint16_t port_of(const addrinfo& a) {
  return ntohs(reinterpret_cast<const sockaddr_in*>(a.ai_addr)->sin_port);
}

TEST(Resolve, ALookupThatOutlivesTheDeadlineIsATimedOutTry) {
  AddrInfoList found;
  const auto fault =
      resolve("never.test", 11212, std::chrono::steady_clock::now() + milliseconds(50), found,
              stuck_lookup);
  EXPECT_EQ(fault.code, TryErrc::timed_out) << fault.describe();
  EXPECT_NE(fault.detail.find("never.test"), std::string::npos) << fault.detail;
  EXPECT_FALSE(found);
  EXPECT_EQ(stuck.lookups, 1);
  EXPECT_FALSE(stuck.returned);  // it gave up while the lookup was still stuck
  // The abandoned lookup ends on its own thread, later, and frees its state.
  stuck.release();
  while (!stuck.returned) std::this_thread::yield();
}

TEST(Resolve, ANameIsLookedUpOnItsThreadAndNumbersNeedNone) {
  AddrInfoList found;
  const auto far = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  ASSERT_FALSE(resolve("ids.test", 11212, far, found, name_lookup));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->ai_family, AF_INET);
  EXPECT_EQ(port_of(*found), 11212);

  // Numbers are answered at once: no name lookup, and a past deadline does not matter.
  for (const char* host : {"127.0.0.1", "::1"}) {
    AddrInfoList numeric;
    ASSERT_FALSE(resolve(host, 7, std::chrono::steady_clock::now() - milliseconds(1), numeric,
                         numbers_only_lookup))
        << host;
    ASSERT_TRUE(numeric) << host;
  }
  EXPECT_EQ(name_lookups, 0);
}

TEST(Resolve, ANameThatDoesNotResolveIsAConnectFailure) {
  AddrInfoList found;
  const auto far = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const auto fault = resolve("nowhere.test", 1, far, found, refusing_lookup);
  EXPECT_EQ(fault.code, TryErrc::connect_failed) << fault.describe();
  EXPECT_NE(fault.detail.find("resolving"), std::string::npos) << fault.detail;
  EXPECT_FALSE(found);
}

}  // namespace
}  // namespace katsubushi::client
