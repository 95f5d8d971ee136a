// katsubushi: the ID daemon. Everything but argument plumbing lives in the libraries.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "id/clock.hpp"
#include "id/generator.hpp"
#include "server/logging.hpp"
#include "server/server.hpp"
#include "version.hpp"

namespace {

// A flag error (exit 2) in the format the user asked for: one JSON log line
// with -log-format json, else plain text, as before logging is set up.
void report_config_error(const char* what, const std::vector<std::string>& warnings, bool json) {
  if (json) {
    katsubushi::server::setup_logging("info", "json");
    for (const auto& w : warnings) spdlog::warn("{}", w);
    spdlog::error("{}; run katsubushi -help for the flags", what);
    return;
  }
  for (const auto& w : warnings) std::fprintf(stderr, "katsubushi: warning: %s\n", w.c_str());
  std::fprintf(stderr, "katsubushi: %s\nRun katsubushi -help for the flags.\n", what);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace katsubushi;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const config::EnvLookup env = config::process_environment();
  config::Config cfg;
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
  } catch (const config::ConfigError& e) {
    report_config_error(e.what(), cfg.warnings, config::json_logs_requested(args, env));
    return 2;
  }

  try {
    server::setup_logging(cfg.log_level, cfg.log_format);
    for (const auto& w : cfg.warnings) spdlog::warn("{}", w);

    id::SystemClock clock;
    // The daemon still starts (the clock may be put right), but say now why
    // every get would fail rather than only answer SERVER_ERROR.
    if (const auto why = id::outside_id_time_range(clock.now_unix_ms())) {
      spdlog::error("{}", *why);
    }
    id::IdGenerator generator(clock, cfg.worker_id);
    server::Server server(cfg, generator);
    server.listen();
    spdlog::info("katsubushi {} worker id {} with {} threads", kVersion, cfg.worker_id,
                 cfg.threads);
    return server.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
