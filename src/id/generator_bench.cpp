// Generator throughput. The layout caps one worker id at 4,096,000 ids/s of
// real time; with a simulated clock the figure is the generator's own cost.
#include <benchmark/benchmark.h>

#include <vector>

#include "id/issue_waiting.hpp"
#include "id/clock.hpp"
#include "id/generator.hpp"
#include "id/manual_clock.hpp"

namespace {

using katsubushi::id::IdGenerator;

template <typename ClockT>
void BM_Next(benchmark::State& state) {
  ClockT clock;
  IdGenerator gen(clock, 1);
  std::uint64_t id = 0;
  for ([[maybe_unused]] auto _ : state) {
    if (katsubushi::id::next_waiting(gen, id)) state.SkipWithError("generator error");
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["sequence_waits"] = static_cast<double>(gen.counters().sequence_waits);
}
BENCHMARK(BM_Next<katsubushi::id::ManualClock>);
// Real time: with a real clock the layout's 4096 ids/ms is the ceiling.
BENCHMARK(BM_Next<katsubushi::id::SystemClock>)->Threads(1)->Threads(2)->UseRealTime();

void BM_BatchSimulatedClock(benchmark::State& state) {
  katsubushi::id::ManualClock clock;
  IdGenerator gen(clock, 1);
  std::vector<std::uint64_t> ids(static_cast<std::size_t>(state.range(0)));
  for ([[maybe_unused]] auto _ : state) {
    auto r = katsubushi::id::issue_waiting(gen, ids);
    if (r.error) state.SkipWithError("generator error");
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BatchSimulatedClock)->Arg(10)->Arg(100)->Arg(1000);

}  // namespace
