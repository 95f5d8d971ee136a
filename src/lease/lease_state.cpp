#include "lease/lease_listener.hpp"

namespace katsubushi::lease {

std::string_view to_string(LeaseState s) noexcept {
  switch (s) {
    case LeaseState::static_id:
      return "static";
    case LeaseState::claiming:
      return "claiming";
    case LeaseState::held:
      return "held";
    case LeaseState::lost:
      return "lost";
    case LeaseState::paused:
      return "paused";
  }
  return "unknown";
}

}  // namespace katsubushi::lease
