// The sans-I/O session core's cost per request, without sockets.
#include <benchmark/benchmark.h>

#include <string>

#include "id/generator.hpp"
#include "id/manual_clock.hpp"
#include "proto/session.hpp"

namespace {

using namespace katsubushi;

// One read carrying `depth` pipelined requests of `keys` keys each.
void BM_SessionPipelinedGets(benchmark::State& state) {
  const auto depth = static_cast<int>(state.range(0));
  const auto keys = static_cast<int>(state.range(1));
  std::string request = "get";
  for (int k = 0; k < keys; ++k) request += " key" + std::to_string(k);
  request += "\r\n";
  std::string batch;
  for (int i = 0; i < depth; ++i) batch += request;

  id::ManualClock clock;
  id::IdGenerator gen(clock, 1);
  proto::ProtocolCounters counters;
  proto::SessionCore core({.generator = gen, .counters = counters}, {});
  std::size_t out_bytes = 0;
  for ([[maybe_unused]] auto _ : state) {
    core.receive(batch);
    core.process();
    out_bytes += core.output().size();
    core.consume_output(core.output().size());
  }
  state.SetItemsProcessed(state.iterations() * depth * keys);
  state.SetBytesProcessed(static_cast<std::int64_t>(out_bytes));
}
BENCHMARK(BM_SessionPipelinedGets)->Args({1, 1})->Args({64, 1})->Args({1, 100})->Args({16, 16});

}  // namespace
