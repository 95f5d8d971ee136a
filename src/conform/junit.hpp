// The verdict of a run as JUnit XML (`katsubushi-conform --junit FILE`), the
// format CI systems read to show and gate on test results: one <testsuite>
// per case group, one <testcase> per case, <skipped> and <failure> carrying
// the reason the console line gives.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "conform/suite.hpp"

namespace katsubushi::conform {

// `target` is recorded as a property of each suite (what was tested).
void write_junit(const RunSummary& summary, std::string_view target, std::ostream& out);

// Text as XML character data or an attribute value: markup characters as
// entities, and bytes XML 1.0 cannot hold (controls, non-ASCII) as \xNN.
std::string xml_escape(std::string_view text);

}  // namespace katsubushi::conform
