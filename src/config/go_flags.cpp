#include "config/go_flags.hpp"

#include "config/config.hpp"

namespace katsubushi::config {

namespace {

// More ignored arguments than this are counted, not listed.
constexpr std::size_t kMaxListedIgnoredArguments = 8;

struct RawFlag {
  std::string_view name;
  std::optional<std::string_view> value;  // set for -name=value
};

// The flag at args[i], or nullopt when args[i] ends the flags: a non-flag
// argument (a lone "-" is one) or "--", which is stepped over.
std::optional<RawFlag> split_flag(const std::vector<std::string>& args, std::size_t& i) {
  std::string_view a = args[i];
  if (a.size() < 2 || a[0] != '-') return std::nullopt;
  if (a == "--") {
    ++i;
    return std::nullopt;
  }
  a.remove_prefix(a[1] == '-' ? 2 : 1);
  if (a.empty() || a[0] == '-' || a[0] == '=') {
    throw ConfigError("bad flag syntax: " + args[i]);
  }
  RawFlag raw{a, std::nullopt};
  if (auto eq = a.find('='); eq != std::string_view::npos) {
    raw.name = a.substr(0, eq);
    raw.value = a.substr(eq + 1);
  }
  return raw;
}

}  // namespace

std::size_t walk_go_flags(const std::vector<std::string>& args,
                          const std::function<FlagKind(std::string_view)>& kind_of,
                          const std::function<void(const GoFlag&)>& on_flag) {
  std::size_t i = 0;
  while (i < args.size()) {
    const auto raw = split_flag(args, i);
    if (!raw) break;
    ++i;
    GoFlag flag{raw->name, kind_of(raw->name), raw->value};
    if (!flag.value && flag.kind == FlagKind::boolean) {
      flag.value = "true";
    } else if (!flag.value && flag.kind == FlagKind::valued && i < args.size()) {
      // As in Go, whatever comes next, even "--" or "-x".
      flag.value = args[i++];
    }
    on_flag(flag);
  }
  return i;
}

std::string ignored_arguments_warning(const std::vector<std::string>& args, std::size_t first) {
  std::string msg = "ignoring the arguments after the flags:";
  bool flag_like = false;
  for (std::size_t i = first; i < args.size(); ++i) {
    flag_like = flag_like || args[i].starts_with('-');
    if (i - first == kMaxListedIgnoredArguments) {
      msg += " and " + std::to_string(args.size() - i) + " more";
      break;
    }
    msg += " \"" + args[i] + "\"";
  }
  if (flag_like) msg += " (flags after the first non-flag argument are not read, as in Go)";
  return msg;
}

}  // namespace katsubushi::config
