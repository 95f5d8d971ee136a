#include "bench/load_run.hpp"

#include <thread>

#include "bench/grpc_connection.hpp"
#include "bench/id_check.hpp"
#include "bench/load_connection.hpp"
#include "bench/proc_stats.hpp"
#include "bench/tcp_client.hpp"

namespace katsubushi::bench {

namespace {

std::optional<std::chrono::microseconds> cpu_of(int pid) {
  if (pid <= 0) return std::nullopt;
  return process_cpu_time(pid);
}

void check_results(const BenchOptions& options,
                   std::vector<std::unique_ptr<ConnectionResult>>& results,
                   LoadSummary& summary) {
  std::vector<std::vector<std::uint64_t>> lists;
  std::uint64_t misses = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    ConnectionResult& r = *results[i];
    misses += r.misses;
    if (!r.check.ok()) {
      summary.check_violations.push_back("connection " + std::to_string(i + 1) + ": " +
                                         r.check.violation());
    }
    summary.ids_checked += r.check.ids().size();
    lists.push_back(r.check.take_ids());
  }
  if (misses > 0) {
    summary.check_violations.push_back(std::to_string(misses) + " of the keys asked for (" +
                                       std::to_string(options.keys) +
                                       " a get) came back without a value");
  }
  if (const auto dup = find_duplicate(lists)) {
    summary.check_violations.push_back("id " + std::to_string(*dup) +
                                       " was received on two connections");
  }
}

}  // namespace

LoadSummary run_load(const BenchOptions& options) {
  LoadSummary summary;
  LoadPlan plan;
  plan.proto = proto_named(options.proto).value_or(Proto::text);
  plan.request = get_request(plan.proto, options.key_prefix, options.keys, options.host);
  plan.host = options.host;
  plan.port = options.port;
  plan.depth = options.depth;
  plan.keys = options.keys;
  plan.check = options.check;
  LoadControl control;
  if (options.requests > 0) {
    control.budgeted = true;
    control.budget = static_cast<std::int64_t>(options.requests);
    control.phase = Phase::measure;
  }

  // One socket, or one gRPC channel, a connection.
  std::vector<Socket> sockets;
  std::vector<std::unique_ptr<GrpcLoadConnection>> channels;
  for (unsigned i = 0; i < options.conns; ++i) {
    std::string error;
    if (plan.proto == Proto::grpc) {
      channels.push_back(GrpcLoadConnection::open(options.host, options.port, error));
    } else {
      sockets.push_back(connect_tcp(options.host, options.port, error));
    }
    if (!error.empty()) {
      summary.failures.push_back("connection " + std::to_string(i + 1) + ": " + error);
      return summary;
    }
  }
  std::vector<std::unique_ptr<ConnectionResult>> results;
  for (unsigned i = 0; i < options.conns; ++i) results.push_back(std::make_unique<ConnectionResult>());

  summary.ran = true;
  std::vector<std::thread> threads;
  const auto start_threads = [&] {
    for (unsigned i = 0; i < options.conns; ++i) {
      if (plan.proto == Proto::grpc) {
        threads.emplace_back([&, i] { channels[i]->run(plan, control, *results[i]); });
      } else {
        threads.emplace_back(run_connection, std::ref(sockets[i]), std::cref(plan),
                             std::ref(control), std::ref(*results[i]));
      }
    }
  };
  const auto join_threads = [&] {
    for (auto& t : threads) t.join();
  };

  using Clock = std::chrono::steady_clock;
  std::optional<std::chrono::microseconds> cpu_before;
  std::optional<std::chrono::microseconds> cpu_after;
  Clock::time_point t0;
  Clock::time_point t1;
  if (control.budgeted) {
    cpu_before = cpu_of(options.pid);
    t0 = Clock::now();
    start_threads();
    join_threads();
    t1 = Clock::now();
    cpu_after = cpu_of(options.pid);
  } else {
    start_threads();
    std::this_thread::sleep_for(options.warmup);
    cpu_before = cpu_of(options.pid);
    t0 = Clock::now();
    control.phase = Phase::measure;
    std::this_thread::sleep_for(options.duration);
    control.phase = Phase::stop;
    t1 = Clock::now();
    cpu_after = cpu_of(options.pid);
    join_threads();
  }
  summary.seconds = std::chrono::duration<double>(t1 - t0).count();
  if (cpu_before && cpu_after) summary.server_cpu = *cpu_after - *cpu_before;

  for (std::size_t i = 0; i < results.size(); ++i) {
    const ConnectionResult& r = *results[i];
    summary.requests += r.requests;
    summary.ids += r.ids;
    summary.misses += r.misses;
    summary.errors += r.errors;
    summary.reconnects += r.reconnects;
    summary.latency->merge(r.latency);
    if (!r.failure.empty()) {
      summary.failures.push_back("connection " + std::to_string(i + 1) + ": " + r.failure);
    }
  }
  if (options.check) check_results(options, results, summary);
  return summary;
}

}  // namespace katsubushi::bench
