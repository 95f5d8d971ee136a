// The restart property: no id repeats across a restart of the daemon, even
// when the clock has moved backwards meanwhile. It waits for the state file
// (the reserved-until mark kept on disk), which does not exist yet.
//
// What it will check, once IdGenerator can be started from a state file:
// run a generator under a ManualClock through arbitrary clock moves and
// requests, stop it (gracefully, writing the exact last timestamp, or by a
// "crash" at any point, leaving only the last reserved-until mark on disk),
// set the clock anywhere (backwards included) and start a new generator from
// that file. Every id the new one issues must be greater than every id the
// old one issued; when the gap to the mark is under -max-clock-wait it waits
// (ManualClock sleeps) rather than refusing, and otherwise it refuses to start
// with both times named.
#include <gtest/gtest.h>

namespace {

TEST(RestartProperties, NoIdRepeatsAcrossRestarts) {
  GTEST_SKIP() << "pending the state file (reserved-until mark), which does not exist yet; "
                  "this property replaces the skip when it lands";
}

}  // namespace
