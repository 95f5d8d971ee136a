// RapidCheck defaults for this suite, set before any property reads its
// configuration (RapidCheck reads RC_PARAMS once, on first use). Keys the
// user gives in RC_PARAMS come after ours, and the later key wins, so
// RC_PARAMS="seed=..." or "max_success=..." still work as documented.
#include <cstdlib>
#include <string>

namespace {

// The properties are cheap (simulated time, no I/O): more cases than
// RapidCheck's default 100 for the same minute of CI.
constexpr const char* kSuiteDefaults = "max_success=1000";

const bool kDefaultsApplied = [] {
  std::string params = kSuiteDefaults;
  if (const char* user = std::getenv("RC_PARAMS")) {
    params += ' ';
    params += user;
  }
  // Static initialization, before main: no other thread can read the environment yet.
  return ::setenv("RC_PARAMS", params.c_str(), 1) == 0;  // NOLINT(concurrency-mt-unsafe)
}();

}  // namespace
