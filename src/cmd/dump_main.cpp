// katsubushi-dump: what an id says (time, worker id, sequence), or the
// smallest id of a given millisecond.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "id/layout.hpp"
#include "id/timefmt.hpp"

namespace {

// The largest id: bit 63 clear, every other field full.
constexpr std::uint64_t kMaxId = katsubushi::id::encode(
    {katsubushi::id::kMaxTimestamp, katsubushi::id::kMaxWorkerId, katsubushi::id::kMaxSequence});
static_assert(kMaxId == (std::uint64_t{1} << 63) - 1);

constexpr const char* kUsage =
    "Usage: katsubushi-dump ID...\n"
    "       katsubushi-dump -to-id TIME\n"
    "Prints one JSON line per id: {\"time\":RFC 3339 UTC with ms,\"worker_id\":N,\"sequence\":N}.\n"
    "With -to-id, prints the smallest id of TIME's millisecond (RFC 3339, e.g.\n"
    "2024-05-01T12:00:00.123Z or 2024-05-01T21:00:00+09:00).\n";

int to_id(std::string_view text) {
  using namespace katsubushi::id;
  const auto ms = parse_rfc3339_ms(text);
  if (!ms) {
    std::fprintf(stderr, "katsubushi-dump: cannot parse time \"%.*s\" (want RFC 3339)\n",
                 static_cast<int>(text.size()), text.data());
    return 1;
  }
  const std::int64_t ts = *ms - kEpochUnixMs;
  if (ts < 0 || ts > kMaxTimestamp) {
    std::fprintf(stderr, "katsubushi-dump: %.*s is outside the id time range\n",
                 static_cast<int>(text.size()), text.data());
    return 1;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(encode({ts, 0, 0})));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace katsubushi::id;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  std::string_view first = argv[1];
  if (first == "-h" || first == "-help" || first == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  for (std::string_view flag : {"-to-id", "--to-id"}) {
    if (first == flag) {
      if (argc != 3) {
        std::fputs(kUsage, stderr);
        return 1;
      }
      return to_id(argv[2]);
    }
    if (first.starts_with(std::string(flag) + "=")) {
      if (argc != 2) {
        std::fputs(kUsage, stderr);
        return 1;
      }
      return to_id(first.substr(flag.size() + 1));
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view s = argv[i];
    std::uint64_t id = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
      std::fprintf(stderr, "katsubushi-dump: \"%.*s\" is not an id (want a decimal uint64)\n",
                   static_cast<int>(s.size()), s.data());
      return 1;
    }
    // Bit 63 is always 0 in an id; decoding one with it set would silently
    // drop that bit and print a time the value does not hold.
    if (id > kMaxId) {
      std::fprintf(stderr,
                   "katsubushi-dump: \"%.*s\" is not an id: bit 63 is set (ids are at most "
                   "%llu)\n",
                   static_cast<int>(s.size()), s.data(), static_cast<unsigned long long>(kMaxId));
      return 1;
    }
    const IdParts parts = decode(id);
    std::printf("{\"time\":\"%s\",\"worker_id\":%u,\"sequence\":%u}\n",
                format_rfc3339_ms(parts.timestamp_ms + kEpochUnixMs).c_str(), parts.worker_id,
                parts.sequence);
  }
  return 0;
}
