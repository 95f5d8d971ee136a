#include "service/held_id_stats.hpp"

#include <string>

namespace katsubushi::service {

std::size_t serving_count(const std::vector<id::HeldIdFigures>& held) noexcept {
  std::size_t serving = 0;
  for (const auto& h : held) if (!h.refusal) ++serving;
  return serving;
}

void append_held_id_stats(StatList& out, const std::vector<id::HeldIdFigures>& held) {
  for (const auto& h : held) {
    const std::string prefix = std::string(kHeldIdStatPrefix) + std::to_string(h.worker_id) + ":";
    out.emplace_back(prefix + "ids_issued", std::to_string(h.ids_issued));
    std::string state = "serving";
    if (h.refusal && h.refusal.category() == id::generator_category()) {
      state = id::errc_name(static_cast<id::GeneratorErrc>(h.refusal.value()));
    } else if (h.refusal) {
      state = "unavailable";
    }
    out.emplace_back(prefix + "state", std::move(state));
  }
}

}  // namespace katsubushi::service
