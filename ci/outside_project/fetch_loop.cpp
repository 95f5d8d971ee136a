// fetch_loop SERVERS SECONDS: one id every 100 µs for SECONDS through
// katsubushi::client, counting failed fetches and ids seen twice; first an
// id from the embedded generator (katsubushi::id). Exit 0 when every fetch
// gave a new id. Built with FETCH_GRPC (fetch_loop_grpc): grpc:// enabled first.
#include <katsubushi/client.hpp>
#ifdef FETCH_GRPC
#include <katsubushi/client_grpc.hpp>
#endif
#include <katsubushi/id/generator.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>
#include <unordered_set>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fetch_loop SERVERS SECONDS\n");
    return 2;
  }
  katsubushi::id::SystemClock clock;
  katsubushi::id::IdGenerator generator(clock, 42);
  std::array<std::uint64_t, 1> embedded{};
  const auto issued = generator.next_batch(embedded);
  if (issued.error || issued.filled != 1 || katsubushi::id::decode(embedded[0]).worker_id != 42) {
    std::fprintf(stderr, "the embedded generator gave no id of worker id 42\n");
    return 1;
  }
#ifdef FETCH_GRPC
  katsubushi::client::enable_grpc();
#endif
  katsubushi::client::Options options;
  options.deadline = std::chrono::seconds(3);
  katsubushi::client::Client client(argv[1], options);
  const auto period = std::chrono::microseconds(100);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[2]));
  std::unordered_set<std::uint64_t> seen;
  std::map<std::uint32_t, std::size_t> per_worker;
  std::size_t failed = 0;
  std::size_t duplicates = 0;
  for (auto next = std::chrono::steady_clock::now(); next < end; next += period) {
    std::this_thread::sleep_until(next);
    const auto got = client.try_fetch();
    if (!got) {
      if (++failed <= 3) std::fprintf(stderr, "fetch failed: %s\n", got.message().c_str());
      continue;
    }
    if (!seen.insert(got.ids[0]).second) ++duplicates;
    ++per_worker[katsubushi::id::decode(got.ids[0]).worker_id];
  }
  std::printf("fetch_loop: %zu ids, %zu failed, %zu duplicates; per worker id:", seen.size(),
              failed, duplicates);
  for (const auto& [worker, n] : per_worker) std::printf(" %u=%zu", worker, n);
  std::printf("\n");
  return failed == 0 && duplicates == 0 && !seen.empty() ? 0 : 1;
}
