// -json: one flat JSON object of results, keys in the order they were added.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace katsubushi::bench {

class JsonObject {
 public:
  void add(std::string_view key, std::uint64_t value);
  void add(std::string_view key, double value);  // 3 decimals; NaN and infinities as null
  void add(std::string_view key, std::string_view value);
  void add(std::string_view key, const char* value) { add(key, std::string_view(value)); }
  void add(std::string_view key, bool value);

  // The object, without a trailing newline.
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

// `s` as a JSON string, quotes included.
std::string json_string(std::string_view s);

}  // namespace katsubushi::bench
