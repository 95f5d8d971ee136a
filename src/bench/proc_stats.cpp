#include "bench/proc_stats.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>

namespace katsubushi::bench {

namespace {

std::optional<std::uint64_t> number_at(std::string_view s) noexcept {
  std::uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  return n;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<std::uint64_t> cpu_ticks_from_stat(std::string_view stat) noexcept {
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  // After ')' come field 3 (state) onwards; utime and stime are fields 14 and 15.
  constexpr int kUtimeField = 14;
  std::optional<std::uint64_t> utime;
  for (int field = 3; field <= kUtimeField + 1; ++field) {
    const std::size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(start);
    const std::size_t end = rest.find(' ');
    const std::string_view token = rest.substr(0, end);
    if (field == kUtimeField) utime = number_at(token);
    if (field == kUtimeField + 1) {
      const auto stime = number_at(token);
      if (!utime || !stime) return std::nullopt;
      return *utime + *stime;
    }
    if (end == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> rss_kb_from_status(std::string_view status) noexcept {
  constexpr std::string_view kKey = "\nVmRSS:";
  const std::size_t at = status.starts_with(kKey.substr(1)) ? 0 : status.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = status.substr(status.find(':', at) + 1);
  const std::size_t start = rest.find_first_not_of(" \t");
  if (start == std::string_view::npos) return std::nullopt;
  return number_at(rest.substr(start));
}

std::optional<std::chrono::microseconds> process_cpu_time(int pid) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  const auto ticks = cpu_ticks_from_stat(*text);
  const long per_second = sysconf(_SC_CLK_TCK);
  if (!ticks || per_second <= 0) return std::nullopt;
  const auto hz = static_cast<std::uint64_t>(per_second);
  return std::chrono::microseconds(static_cast<std::int64_t>(*ticks * 1'000'000 / hz));
}

std::optional<std::uint64_t> process_rss_kb(int pid) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text) return std::nullopt;
  return rss_kb_from_status(*text);
}

}  // namespace katsubushi::bench
