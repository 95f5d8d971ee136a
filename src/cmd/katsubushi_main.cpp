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

int main(int argc, char** argv) {
  using namespace katsubushi;
  const std::vector<std::string> args(argv + 1, argv + argc);
  config::Config cfg;
  try {
    cfg = config::parse_config(args, config::process_environment());
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
    std::fprintf(stderr, "katsubushi: %s\nRun katsubushi -help for the flags.\n", e.what());
    return 2;
  }

  try {
    server::setup_logging(cfg.log_level, cfg.log_format);
    for (const auto& w : cfg.warnings) spdlog::warn("{}", w);

    id::SystemClock clock;
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
