#include "conform/case_location.hpp"

#include <system_error>

// The installed cases relative to the installed executable; CMake passes the
// one its install directories give (bin and share by default).
#ifndef KATSUBUSHI_CONFORM_CASES_FROM_BINDIR
#define KATSUBUSHI_CONFORM_CASES_FROM_BINDIR "../share/katsubushi/conform"
#endif

namespace katsubushi::conform {

namespace {

// The name of the build tree's link to src/conform/cases, beside the binary.
constexpr const char* kBuildTreeCases = "conform-cases";

}  // namespace

std::vector<std::filesystem::path> case_dir_candidates(const std::filesystem::path& executable) {
  const std::filesystem::path dir = executable.parent_path();
  return {(dir / KATSUBUSHI_CONFORM_CASES_FROM_BINDIR).lexically_normal(), dir / kBuildTreeCases};
}

std::optional<std::filesystem::path> find_case_dir(const std::filesystem::path& executable,
                                                   std::string& looked) {
  looked.clear();
  for (const std::filesystem::path& candidate : case_dir_candidates(executable)) {
    std::error_code ec;
    if (std::filesystem::is_directory(candidate, ec)) return candidate;
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  return std::nullopt;
}

std::filesystem::path own_executable(const char* argv0) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && !self.empty()) return self;
  if (argv0 == nullptr) return {};
  return std::filesystem::absolute(argv0, ec);
}

}  // namespace katsubushi::conform
