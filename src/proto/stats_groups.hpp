// The `stats` groups, decided once for both memcached protocols: which group
// a name names, and what it answers. The text session renders an answer as
// "STAT name value" lines and END, the binary session as one packet a stat
// and an empty terminator; the groups with arguments (detail, cachedump) are
// the text protocol's only and answer with their whole text reply.
#pragma once

#include <span>
#include <string_view>

#include "service/stats.hpp"

namespace katsubushi::proto {

enum class StatsGroup {
  general,    // no group: the server's stats
  settings,   // the server's settings
  items,      // nothing is stored: no lines
  slabs,      // no slab is in use
  sizes,      // memcached's sizes histogram, disabled
  conns,      // text only: the core sees no other connection, so no lines
  reset,      // zeroes the counters, no lines (text answers RESET)
  detail,     // text only: `stats detail on|off|dump`
  cachedump,  // text only: `stats cachedump <class> <limit>`
  unknown,    // text: ERROR; binary: KEY_ENOENT "Not found"
};

// Who asks: memcached's binary protocol (proto_bin.c) knows fewer groups
// than its text protocol (no conns, detail or cachedump there).
enum class StatsDialect { text, binary };

// The group `name` names (ASCII case-insensitive; empty is general).
StatsGroup stats_group_named(std::string_view name, StatsDialect dialect) noexcept;

// The lines a group answers with, in order (none for unknown and the text
// replies' groups). reset zeroes `counters` and the source's totals first:
// ids, clock and sequence are never touched. A null source has no lines.
service::StatList answer_stats_group(StatsGroup group, service::ProtocolCounters& counters, service::StatsSource* source);

// The text reply to `stats detail <args>` and `stats cachedump <args>`:
// nothing is recorded per prefix and no item is stored, so only memcached's
// checks of the arguments and its empty answers are left.
std::string_view stats_detail_reply(std::span<const std::string_view> args) noexcept;
std::string_view stats_cachedump_reply(std::span<const std::string_view> args) noexcept;

}  // namespace katsubushi::proto
