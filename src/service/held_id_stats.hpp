// The per-worker-id part of `stats` (-worker-id-count): for each held worker
// id W, "worker:W:ids_issued" and "worker:W:state" (serving, or why it
// issues nothing: no_lease, clock_untrusted, below_floor, not_reserved,
// stopped), memcached's "group:id:field" shape; /metrics turns them into
// families labelled worker_id. The totals (worker_id_count, the ids held;
// worker_ids_serving, those issuing now) are the server's own stats.
#pragma once

#include "id/generator.hpp"
#include "service/stats.hpp"

#include <vector>

namespace katsubushi::service {

inline constexpr std::string_view kHeldIdStatPrefix = "worker:";

std::size_t serving_count(const std::vector<id::HeldIdFigures>& held) noexcept;
void append_held_id_stats(StatList& out, const std::vector<id::HeldIdFigures>& held);

}  // namespace katsubushi::service
