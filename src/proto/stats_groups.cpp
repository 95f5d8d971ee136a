#include "proto/stats_groups.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include "service/ascii.hpp"

namespace katsubushi::proto {

namespace {

// memcached's MAX_NUMBER_OF_SLAB_CLASSES: `stats cachedump <id> …` takes ids below it.
constexpr std::uint32_t kSlabClasses = 64;

struct NamedGroup {
  std::string_view name;
  StatsGroup group;
  bool binary;  // memcached's binary protocol knows it too
};

constexpr std::array<NamedGroup, 8> kNamedGroups{{
    {"settings", StatsGroup::settings, true},
    {"items", StatsGroup::items, true},
    {"slabs", StatsGroup::slabs, true},
    {"sizes", StatsGroup::sizes, true},
    {"reset", StatsGroup::reset, true},
    {"conns", StatsGroup::conns, false},
    {"detail", StatsGroup::detail, false},
    {"cachedump", StatsGroup::cachedump, false},
}};

bool parse_u32(std::string_view s, std::uint32_t& v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

StatsGroup stats_group_named(std::string_view name, StatsDialect dialect) noexcept {
  if (name.empty()) return StatsGroup::general;
  for (const NamedGroup& g : kNamedGroups) {
    if (service::iequals_ascii(name, g.name)) {
      return g.binary || dialect == StatsDialect::text ? g.group : StatsGroup::unknown;
    }
  }
  return StatsGroup::unknown;
}

service::StatList answer_stats_group(StatsGroup group, service::ProtocolCounters& counters, service::StatsSource* source) {
  switch (group) {
    case StatsGroup::general:
      return source != nullptr ? source->general_stats() : service::StatList{};
    case StatsGroup::settings:
      return source != nullptr ? source->settings_stats() : service::StatList{};
    case StatsGroup::slabs:
      return {{"active_slabs", "0"}, {"total_malloced", "0"}};
    case StatsGroup::sizes:
      return {{"sizes_status", "disabled"}};
    case StatsGroup::reset:
      counters.reset();
      if (source != nullptr) source->reset_stats();
      return {};
    case StatsGroup::items:
    case StatsGroup::conns:
    case StatsGroup::detail:
    case StatsGroup::cachedump:
    case StatsGroup::unknown:
      break;
  }
  return {};
}

std::string_view stats_detail_reply(std::span<const std::string_view> args) noexcept {
  const std::string_view what = args.empty() ? std::string_view() : args[0];
  if (service::iequals_ascii(what, "on") || service::iequals_ascii(what, "off")) return "OK\r\n";
  if (service::iequals_ascii(what, "dump")) return "END\r\n";
  return "CLIENT_ERROR usage: stats detail on|off|dump\r\n";
}

std::string_view stats_cachedump_reply(std::span<const std::string_view> args) noexcept {
  std::uint32_t slab_class = 0;
  std::uint32_t limit = 0;
  if (args.size() < 2) return "CLIENT_ERROR bad command line\r\n";
  if (!parse_u32(args[0], slab_class) || !parse_u32(args[1], limit)) {
    return "CLIENT_ERROR bad command line format\r\n";
  }
  if (slab_class >= kSlabClasses) return "CLIENT_ERROR Illegal slab id\r\n";
  return "END\r\n";  // no items in any class
}

}  // namespace katsubushi::proto
