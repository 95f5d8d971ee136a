#include "grpc/handlers.hpp"

#include <charconv>
#include <limits>
#include <string_view>
#include <utility>

namespace katsubushi::grpcapi {

FetchStep fetch_step(service::IdService& ids, std::uint32_t n,
                     std::span<std::uint64_t, kMaxFetchMulti> out, bool cancelled) {
  if (n > kMaxFetchMulti) {
    return {.done = FetchResult{.outcome = Outcome::invalid_argument,
                                .message = "too many ids requested: " + std::to_string(n) +
                                           ", n must be at most " + std::to_string(kMaxFetchMulti),
                                .count = 0}};
  }
  const std::size_t want = n == 0 ? 1 : n;
  const auto issued = ids.issue_all(std::span<std::uint64_t>(out).first(want));
  if (issued.error) {
    return {.done = FetchResult{
                .outcome = Outcome::unavailable, .message = issued.error.message(), .count = 0}};
  }
  if (issued.not_before_unix_ms == 0) {
    return {.done = FetchResult{.outcome = Outcome::ok, .message = {}, .count = want}};
  }
  if (cancelled) {
    ids.count_misses(want);
    return {.done = FetchResult{
                .outcome = Outcome::cancelled, .message = "the call was cancelled", .count = 0}};
  }
  return {.done = std::nullopt, .not_before_unix_ms = issued.not_before_unix_ms};
}

FetchResult fetch_ids(service::IdService& ids, id::Clock& clock, std::uint32_t n,
                      std::span<std::uint64_t, kMaxFetchMulti> out,
                      const std::function<bool()>& cancelled) {
  for (;;) {
    FetchStep step = fetch_step(ids, n, out, cancelled && cancelled());
    if (step.done) return std::move(*step.done);
    clock.sleep_until_unix_ms(step.not_before_unix_ms);
  }
}

namespace {

const std::string* find_stat(const service::StatList& stats, std::string_view name) {
  for (const auto& [key, value] : stats) {
    if (key == name) return &value;
  }
  return nullptr;
}

// A signed decimal, or an unsigned one too big for int64 (saturated).
std::optional<std::int64_t> stat_number(const service::StatList& stats, std::string_view name) {
  const std::string* text = find_stat(stats, name);
  if (text == nullptr || text->empty()) return std::nullopt;
  const char* first = text->data();
  const char* last = first + text->size();
  std::int64_t value = 0;
  auto parsed = std::from_chars(first, last, value);
  if (parsed.ec == std::errc::result_out_of_range && text->front() != '-') {
    std::uint64_t big = 0;
    parsed = std::from_chars(first, last, big);
    value = std::numeric_limits<std::int64_t>::max();
  }
  if (parsed.ec != std::errc() || parsed.ptr != last) return std::nullopt;
  return value;
}

}  // namespace

std::optional<StatsFigures> stats_figures(const service::StatList& stats) {
  StatsFigures f;
  const auto pid = stat_number(stats, "pid");
  const std::string* version = find_stat(stats, "version");
  if (!pid || *pid < 0 || *pid > std::numeric_limits<std::int32_t>::max() || version == nullptr) {
    return std::nullopt;
  }
  f.pid = static_cast<std::int32_t>(*pid);
  f.version = *version;
  const std::pair<std::string_view, std::int64_t StatsFigures::*> numbers[] = {
      {"uptime", &StatsFigures::uptime},
      {"time", &StatsFigures::time},
      {"curr_connections", &StatsFigures::curr_connections},
      {"total_connections", &StatsFigures::total_connections},
      {"cmd_get", &StatsFigures::cmd_get},
      {"get_hits", &StatsFigures::get_hits},
      {"get_misses", &StatsFigures::get_misses},
  };
  for (const auto& [name, field] : numbers) {
    const auto value = stat_number(stats, name);
    if (!value) return std::nullopt;
    f.*field = *value;
  }
  return f;
}

}  // namespace katsubushi::grpcapi
