// The sans-I/O session core's cost per request, without sockets.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "id/generator.hpp"
#include "id/manual_clock.hpp"
#include "session/session.hpp"

namespace {

using namespace katsubushi;

// Feeds `batch` to one session every iteration and takes its replies;
// `tick`: the clock moves on a millisecond first.
void run_batches(benchmark::State& state, const std::string& batch, std::int64_t items,
                 bool tick) {
  id::ManualClock clock;
  id::IdGenerator gen(clock, 1);
  service::ProtocolCounters counters;
  session::SessionCore core({.generator = gen, .counters = counters}, {});
  std::size_t out_bytes = 0;
  for ([[maybe_unused]] auto _ : state) {
    if (tick) clock.advance(1);
    core.receive(batch);
    core.process();
    out_bytes += core.output().size();
    core.consume_output(core.output().size());
  }
  state.SetItemsProcessed(state.iterations() * items);
  state.SetBytesProcessed(static_cast<std::int64_t>(out_bytes));
}

// One read carrying `depth` pipelined requests of `keys` keys each.
void BM_SessionPipelinedGets(benchmark::State& state) {
  const auto depth = static_cast<int>(state.range(0));
  const auto keys = static_cast<int>(state.range(1));
  std::string request = "get";
  for (int k = 0; k < keys; ++k) request += " key" + std::to_string(k);
  request += "\r\n";
  std::string batch;
  for (int i = 0; i < depth; ++i) batch += request;

  run_batches(state, batch, static_cast<std::int64_t>(depth) * keys, false);
}
BENCHMARK(BM_SessionPipelinedGets)->Args({1, 1})->Args({64, 1})->Args({1, 100})->Args({16, 16});

// As above, but the clock moves on a millisecond every iteration, so every
// request is answered with ids (above, once the first millisecond's ids are
// used up the requests wait, and the figures are those of waiting). `proto`:
// 0 text get, 1 binary get, 2 meta get (mg <key> v).
void BM_SessionAnsweredGets(benchmark::State& state) {
  const auto proto = state.range(0);
  const auto depth = static_cast<int>(state.range(1));
  std::string request;
  if (proto == 0) {
    request = "get key\r\n";
  } else if (proto == 1) {
    // A binary get of the key "key": header (magic, opcode 0, key length 3,
    // body length 3), then the key.
    request = std::string("\x80\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x03", 12) +
              std::string(12, '\0') + "key";
  } else {
    request = "mg key v\r\n";
  }
  std::string batch;
  for (int i = 0; i < depth; ++i) batch += request;

  run_batches(state, batch, depth, true);
}
BENCHMARK(BM_SessionAnsweredGets)->Args({0, 64})->Args({1, 64})->Args({2, 64});

// One text get of `keys` keys, answered (the clock moves on a millisecond
// every iteration): the formatting of many VALUE entries in one reply.
void BM_SessionAnsweredMultiKeyGet(benchmark::State& state) {
  const auto keys = static_cast<int>(state.range(0));
  std::string request = "get";
  for (int k = 0; k < keys; ++k) request += " key" + std::to_string(k);
  request += "\r\n";
  run_batches(state, request, keys, true);
}
BENCHMARK(BM_SessionAnsweredMultiKeyGet)->Arg(1)->Arg(100)->Arg(1000);

}  // namespace
