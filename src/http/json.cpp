#include "http/json.hpp"

#include <boost/json/serialize.hpp>

#include "service/ascii.hpp"

namespace katsubushi::http {

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

void append_id_json(std::string& out, std::uint64_t id) {
  out.append(R"({"id":")");
  out.append(service::DecimalDigits(id).view());
  out.append(R"("})");
}

void append_ids_json(std::string& out, std::span<const std::uint64_t> ids) {
  out.reserve(out.size() + 12 + ids.size() * 23);
  out.append(R"({"ids":[)");
  service::DecimalRun digits;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    out.append(digits.next(ids[i]));
    out += '"';
  }
  out.append("]}\n");
}

void append_stats_json(std::string& out, const service::StatList& stats) {
  if (stats.empty()) {
    out.append("{}\n");
    return;
  }
  out.append("{\n");
  for (std::size_t i = 0; i < stats.size(); ++i) {
    const auto& [name, value] = stats[i];
    out.append("  ");
    // Names and string values are escaped by Boost.JSON; numbers are copied
    // as they are, so no digit of a 64-bit counter or a decimal is lost.
    out.append(boost::json::serialize(boost::json::string_view(name)));
    out.append(": ");
    if (is_json_number(value)) {
      out.append(value);
    } else {
      out.append(boost::json::serialize(boost::json::string_view(value)));
    }
    out.append(i + 1 < stats.size() ? ",\n" : "\n");
  }
  out.append("}\n");
}

bool is_json_number(std::string_view s) noexcept {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

}  // namespace katsubushi::http
