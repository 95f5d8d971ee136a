#include "conform/suite.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace katsubushi::conform {

namespace {

using Clock = std::chrono::steady_clock;

bool matches_skip(const std::string& id, const std::vector<std::string>& skip) {
  return std::any_of(skip.begin(), skip.end(), [&](const std::string& s) {
    const bool prefix = !s.empty() && s.back() == '*';
    return prefix ? id.starts_with(std::string_view(s).substr(0, s.size() - 1)) : id == s;
  });
}

// A depth-first walk that emits each case after what it requires.
class Orderer {
 public:
  Orderer(const std::vector<Case>& all, std::vector<Case>& out, std::vector<CaseFileError>& errors)
      : all_(all), out_(out), errors_(errors) {
    for (std::size_t i = 0; i < all.size(); ++i) index_.emplace(all[i].id(), i);
  }

  // Iterative, with a stack of (case, its next requirement to look at): no
  // recursion, however long a chain of requirements a case file writes.
  void visit(std::size_t root) {
    enter(root);
    while (!stack_.empty()) {
      auto& [i, next] = stack_.back();
      const Case& c = all_[i];
      if (next < c.needs.size()) {
        const std::string& need = c.needs[next++];
        if (const auto it = index_.find(need); it != index_.end()) {
          enter(it->second);  // may grow stack_: `i` and `next` are not used after it
        } else {
          errors_.push_back({c.file, c.line, c.id() + " requires " + need + ", which is no case"});
        }
        continue;
      }
      state_[i] = State::done;
      out_.push_back(c);
      stack_.pop_back();
    }
  }

 private:
  void enter(std::size_t i) {
    if (state_[i] == State::done) return;
    if (state_[i] == State::visiting) {
      errors_.push_back(
          {all_[i].file, all_[i].line, "a cycle of `requires` through " + all_[i].id()});
      return;
    }
    state_[i] = State::visiting;
    stack_.emplace_back(i, 0);
  }

  enum class State { unseen, visiting, done };
  const std::vector<Case>& all_;
  std::vector<Case>& out_;
  std::vector<CaseFileError>& errors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::size_t, State> state_;
  std::vector<std::pair<std::size_t, std::size_t>> stack_;
};

// What became of a case that ran before: its verdict and, when it was
// skipped for a requirement that failed, the id of that failed case.
struct Outcome {
  Verdict verdict = Verdict::fail;
  std::string lacking;
};

// Why `c` cannot run, from the outcomes so far (empty when it can), and in
// `lacking` the failed case behind it, if any: a SKIP for a missing Noop
// names binary/noop however many requirements lie between.
std::string unmet_requirement(const Case& c, const std::map<std::string, Outcome>& outcomes,
                              std::string& lacking) {
  for (const std::string& need : c.needs) {
    const auto it = outcomes.find(need);
    if (it == outcomes.end()) return "requires " + need + ", which has not run";
    const Outcome& o = it->second;
    if (o.verdict == Verdict::fail) lacking = need;
    if (o.verdict == Verdict::skip) lacking = o.lacking;
    if (!lacking.empty()) return "the target lacks " + lacking + " (that case failed)";
    if (o.verdict == Verdict::skip) return "requires " + need + ", which was skipped";
  }
  return {};
}

}  // namespace

bool select_cases(const std::vector<Case>& all, std::string_view protocol,
                  const std::vector<std::string>& skip, std::vector<Case>& out,
                  std::vector<CaseFileError>& errors) {
  const std::size_t errors_before = errors.size();
  const std::size_t first = out.size();
  Orderer orderer(all, out, errors);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (protocol.empty() || protocol_name(all[i].protocol) == protocol) orderer.visit(i);
  }
  for (std::size_t i = first; i < out.size(); ++i) {
    Case& c = out[i];
    if (c.skip.empty() && matches_skip(c.id(), skip)) c.skip = "skipped by --skip";
  }
  return errors.size() == errors_before;
}

RunSummary run_all(const std::vector<Case>& cases, const Connect& connect,
                   const RunOptions& options, std::ostream& out) {
  RunSummary summary;
  std::map<std::string, Outcome> outcomes;
  for (const Case& c : cases) {
    if (options.trace != nullptr) *options.trace << "case " << c.id() << "\n";
    const auto start = Clock::now();
    CaseResult r;
    std::string lacking;
    if (std::string unmet = unmet_requirement(c, outcomes, lacking); !unmet.empty()) {
      r = {Verdict::skip, std::move(unmet)};
    } else {
      r = run_case(c, connect, options);
    }
    outcomes[c.id()] = {r.verdict, std::move(lacking)};
    out << verdict_name(r.verdict) << " " << c.id();
    if (!r.reason.empty()) out << ": " << r.reason;
    out << "\n" << std::flush;
    switch (r.verdict) {
      case Verdict::pass:
        ++summary.passed;
        break;
      case Verdict::fail:
        ++summary.failed;
        break;
      case Verdict::skip:
        ++summary.skipped;
        break;
    }
    summary.cases.push_back({c.group, c.name, std::move(r), Clock::now() - start});
  }
  out << "conform: " << summary.passed << " passed, " << summary.failed << " failed, "
      << summary.skipped << " skipped\n";
  return summary;
}

}  // namespace katsubushi::conform
