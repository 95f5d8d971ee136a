// katsubushi: the ID daemon. Everything but argument plumbing lives in the libraries.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "id/clock.hpp"
#include "id/generator.hpp"
#include "etcd/etcd_lease_store.hpp"
#include "lease/lease_keeper.hpp"
#include "lease/raus_keys.hpp"
#include "lease/redis_url.hpp"
#include "process/logging.hpp"
#include "process/memory.hpp"
#include "state/reservations.hpp"
#include "server/event_engine.hpp"
#include "server/server.hpp"
#include "process/stop_signals.hpp"
#include "version.hpp"

namespace {

// The stop signals are blocked before anything else of the process runs:
// the executable's preinit functions run before any shared library's
// initializer and before main(). The server unblocks them once its handlers
// are in, so a stop during start-up is a graceful stop, never a kill.
void block_stop_signals_at_preinit(int /*argc*/, char** /*argv*/, char** /*envp*/) {
  katsubushi::process::block_stop_signals();
}
[[gnu::section(".preinit_array"), gnu::used]] void (*const block_at_preinit)(int, char**, char**) =
    &block_stop_signals_at_preinit;

// A flag error (exit 2) in the format the user asked for: one JSON log line
// with -log-format json, else plain text, as before logging is set up.
void report_config_error(const char* what, const std::vector<std::string>& warnings, bool json) {
  if (json) {
    katsubushi::process::setup_logging("info", "json");
    for (const auto& w : warnings) spdlog::warn("{}", w);
    spdlog::error("{}; run katsubushi -help for the flags", what);
    return;
  }
  for (const auto& w : warnings) std::fprintf(stderr, "katsubushi: warning: %s\n", w.c_str());
  std::fprintf(stderr, "katsubushi: %s\nRun katsubushi -help for the flags.\n", what);
}

katsubushi::lease::EtcdFlags etcd_flags(const katsubushi::config::Config& cfg) {
  return {.endpoints = cfg.etcd,
          .cacert = cfg.etcd_cacert,
          .cert = cfg.etcd_cert,
          .key = cfg.etcd_key,
          .user = cfg.etcd_user,
          .password_file = cfg.etcd_password_file};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace katsubushi;
  // Before anything allocates: the daemon sets its allocator up itself.
  process::tune_allocator();
  const std::vector<std::string> args(argv + 1, argv + argc);
  const config::EnvLookup env = config::process_environment();
  config::Config cfg;
  // -etcd's endpoints, files and password, read once with the other flags.
  std::optional<lease::EtcdOptions> etcd;
  try {
    cfg = config::parse_config(args, env);
    if (cfg.show_help) {
      std::fputs(config::usage("katsubushi").c_str(), stdout);
      return 0;
    }
    if (cfg.show_version) {
      std::printf("katsubushi version: %.*s\n", static_cast<int>(kVersion.size()), kVersion.data());
      return 0;
    }
    config::validate_config(cfg);
    // A bad URL, endpoint or TLS flag is a flag error.
    if (cfg.worker_id == 0 && !cfg.redis.empty()) lease::parse_redis_url(cfg.redis);
    if (cfg.worker_id == 0 && !cfg.etcd.empty()) etcd = lease::etcd_options_from(etcd_flags(cfg));
  } catch (const config::ConfigError& e) {
    report_config_error(e.what(), cfg.warnings, config::json_logs_requested(args, env));
    return 2;
  } catch (const lease::RedisUrlError& e) {
    report_config_error(e.what(), cfg.warnings, config::json_logs_requested(args, env));
    return 2;
  } catch (const lease::EtcdConfigError& e) {
    report_config_error(e.what(), cfg.warnings, config::json_logs_requested(args, env));
    return 2;
  }

  try {
    process::setup_logging(cfg.log_level, cfg.log_format);
    for (const auto& w : cfg.warnings) spdlog::warn("{}", w);
    // Before anything is opened: katsubushi-epoll may take this process's place.
    server::settle_event_engine(cfg, argv);

    id::SystemClock clock;
    // The daemon still starts (the clock may be put right), but say now why
    // every get would fail rather than only answer SERVER_ERROR.
    if (const auto why = id::outside_id_time_range(clock.now_unix_ms())) {
      spdlog::error("{}", *why);
    }
    // Without -worker-id the ids come from leases (checked by validate_config).
    const bool leased = cfg.worker_id == 0;
    id::IdGenerator generator(clock, cfg.worker_id, {.worker_id_count = cfg.worker_id_count});
    state::Reservations reservations(
        generator, clock,
        {.state_file = cfg.state_file,
         .max_clock_wait = cfg.max_clock_wait,
         .leased = leased,
         .worker_id_count = cfg.worker_id_count,
         .ahead = config::kReserveAhead,
         .rewrite_within = config::kReserveRewriteWithin,
         .poll = config::kReservePoll});
    // The stop signals are caught from here on: a stop while the state file
    // is read or written is a graceful stop once run() starts.
    server::Server server(cfg, generator);
    reservations.load();
    // One keeper per worker id (-worker-id-count), each with its own key,
    // uuid, fence and lease: losing one leaves the others serving.
    std::vector<std::unique_ptr<lease::LeaseKeeper>> keepers;
    for (std::uint32_t k = 0; leased && k < cfg.worker_id_count; ++k) {
      lease::LeaseOptions options{.min_worker_id = cfg.min_worker_id,
                                  .max_worker_id = cfg.max_worker_id,
                                  .expiry = std::chrono::duration_cast<std::chrono::seconds>(
                                      cfg.lease_ttl)};
      options.max_clock_skew =
          std::chrono::duration_cast<std::chrono::milliseconds>(cfg.max_clock_skew);
      if (cfg.etcd.empty()) {
        options.url = lease::parse_redis_url(cfg.redis);
        options.wait_replicas = cfg.redis_wait_replicas;
      }
      // No wait on {ns}:broadcast before the first claim (SET NX decides
      // anyway); go-katsubushi keeps raus's 3 s SubscribeTimeout.
      options.learn_time = std::chrono::milliseconds(0);
      if (cfg.etcd.empty()) {
        keepers.push_back(std::make_unique<lease::LeaseKeeper>(std::move(options), clock,
                                                               reservations.slot(k)));
      } else {
        auto store = std::make_unique<lease::EtcdLeaseStore>(
            *etcd, cfg.etcd_prefix, lease::random_uuid(),
            options.expiry, lease::resolve_timing(options).call_timeout);
        keepers.push_back(std::make_unique<lease::LeaseKeeper>(
            std::move(options), std::move(store), clock, reservations.slot(k)));
      }
      keepers.back()->claim_at_start();
    }
    reservations.start();
    for (auto& keeper : keepers) keeper->start();
    server.set_id_safety_source([&reservations, &keepers] {
      state::IdSafetyFigures f = reservations.figures();
      std::vector<lease::LeaseStats> leases;
      leases.reserve(keepers.size());
      for (const auto& keeper : keepers) leases.push_back(keeper->stats());
      if (!leases.empty()) state::add_lease_figures(f, leases);
      return f;
    });
    server.listen();
    spdlog::info("katsubushi {} worker id {}{} with {} threads", kVersion, generator.worker_id(),
                 generator.held().size() > 1
                     ? " and " + std::to_string(generator.held().size() - 1) + " more"
                     : std::string(),
                 cfg.threads);
    const int code = server.run();
    // After the last request: nothing more is issued, the state file gets
    // the exact last timestamp, then the worker id is given back.
    const std::int64_t last = reservations.finish();
    for (auto& keeper : keepers) keeper->stop_and_release(last);
    return code;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
