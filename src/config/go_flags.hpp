// The command line walked as Go's flag.Parse walks it, so go-katsubushi
// command lines read the same here: one or two dashes, -flag=value or
// -flag value (a bool flag takes no separate value), and the flags end at the
// first non-flag argument ("-" is one) or after "--".
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace katsubushi::config {

// What the walker needs to know of a name to read its value.
enum class FlagKind { unknown, boolean, valued };

struct GoFlag {
  std::string_view name;  // as written, without the dashes
  FlagKind kind = FlagKind::unknown;
  // -name=value's value; else "true" for a bool flag, the next argument for a
  // valued one; absent for an unknown flag or a valued flag given last.
  std::optional<std::string_view> value;
};

// Calls `on_flag` for each flag in order; returns the index of the first
// argument after the flags (args.size() when none is left over). Throws
// ConfigError on bad flag syntax ("---x", "-=1"); `on_flag` may throw too,
// which ends the walk.
std::size_t walk_go_flags(const std::vector<std::string>& args,
                          const std::function<FlagKind(std::string_view)>& kind_of,
                          const std::function<void(const GoFlag&)>& on_flag);

// The warning for the arguments from `first` on, which Go's flag package
// leaves unread: each quoted (a few, then a count), with a hint when some of
// them look like flags.
std::string ignored_arguments_warning(const std::vector<std::string>& args, std::size_t first);

}  // namespace katsubushi::config
