#include "conform/junit.hpp"

#include <array>
#include <cstdio>
#include <vector>

namespace katsubushi::conform {

namespace {

std::string seconds(std::chrono::duration<double> d) {
  std::array<char, 32> buf{};
  std::snprintf(buf.data(), buf.size(), "%.3f", d.count());
  return buf.data();
}

struct Group {
  std::string name;
  std::vector<const CaseReport*> cases;
  int failures = 0;
  int skipped = 0;
  std::chrono::duration<double> elapsed{};
};

// The groups in the order their first case ran.
std::vector<Group> by_group(const RunSummary& summary) {
  std::vector<Group> groups;
  for (const CaseReport& r : summary.cases) {
    Group* g = nullptr;
    for (Group& existing : groups) {
      if (existing.name == r.group) g = &existing;
    }
    if (g == nullptr) g = &groups.emplace_back(Group{r.group, {}, 0, 0, {}});
    g->cases.push_back(&r);
    g->elapsed += r.elapsed;
    if (r.result.verdict == Verdict::fail) ++g->failures;
    if (r.result.verdict == Verdict::skip) ++g->skipped;
  }
  return groups;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (byte < 0x20 || byte >= 0x7f) {
          constexpr std::string_view kHex = "0123456789abcdef";
          out += "\\x";
          out += kHex[byte >> 4U];
          out += kHex[byte & 0xfU];
        } else {
          out += ch;
        }
    }
  }
  return out;
}

void write_junit(const RunSummary& summary, std::string_view target, std::ostream& out) {
  std::chrono::duration<double> total{};
  for (const CaseReport& r : summary.cases) total += r.elapsed;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"katsubushi-conform\" tests=\"" << summary.cases.size()
      << "\" failures=\"" << summary.failed << "\" skipped=\"" << summary.skipped
      << "\" errors=\"0\" time=\"" << seconds(total) << "\">\n";
  for (const Group& g : by_group(summary)) {
    out << "  <testsuite name=\"" << xml_escape(g.name) << "\" tests=\"" << g.cases.size()
        << "\" failures=\"" << g.failures << "\" skipped=\"" << g.skipped
        << "\" errors=\"0\" time=\"" << seconds(g.elapsed) << "\">\n"
        << "    <properties><property name=\"target\" value=\"" << xml_escape(target)
        << "\"/></properties>\n";
    for (const CaseReport* r : g.cases) {
      out << "    <testcase classname=\"conform." << xml_escape(r->group) << "\" name=\""
          << xml_escape(r->name) << "\" time=\"" << seconds(r->elapsed) << "\"";
      const std::string reason = xml_escape(r->result.reason);
      switch (r->result.verdict) {
        case Verdict::pass:
          out << "/>\n";
          break;
        case Verdict::skip:
          out << ">\n      <skipped message=\"" << reason << "\"/>\n    </testcase>\n";
          break;
        case Verdict::fail:
          out << ">\n      <failure message=\"" << reason << "\">" << reason
              << "</failure>\n    </testcase>\n";
          break;
      }
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace katsubushi::conform
