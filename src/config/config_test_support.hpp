// Test support shared by the config tests: parse_config over an environment
// given as a map, and the message of the ConfigError it throws.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace katsubushi::config::config_test {

using Args = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

inline EnvLookup lookup_in(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

inline Config parse(const Args& args, const Env& env = {}) {
  return parse_config(args, lookup_in(env));
}

// The ConfigError message thrown for `args`, or "" when nothing was thrown.
inline std::string error_of(const Args& args, const Env& env = {}) {
  try {
    parse(args, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace katsubushi::config::config_test
