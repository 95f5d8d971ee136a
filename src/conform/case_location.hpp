// Where katsubushi-conform finds its cases when --cases is not given. Both
// places are relative to the executable, so the runner works from any working
// directory and no build machine's path is compiled in:
//   <bindir>/../share/katsubushi/conform   installed (cmake --install, the .deb)
//   <dir of the executable>/conform-cases  a build tree (a link the build makes
//                                          to src/conform/cases)
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace katsubushi::conform {

// The places looked at, in order, for an executable at `executable`.
std::vector<std::filesystem::path> case_dir_candidates(const std::filesystem::path& executable);

// The first candidate that is a directory, or nothing; `looked` lists every
// candidate for the error message.
std::optional<std::filesystem::path> find_case_dir(const std::filesystem::path& executable,
                                                   std::string& looked);

// This process's executable (/proc/self/exe, else `argv0` made absolute).
std::filesystem::path own_executable(const char* argv0);

}  // namespace katsubushi::conform
