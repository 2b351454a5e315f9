#pragma once
#include <string>
#include <string_view>

namespace villagebot {

// Replies are Chinese unless a person asked for English.
enum class Lang { zh, en };

[[nodiscard]] inline Lang parse_lang(std::string_view tag) {
  if (tag.size() >= 2 && (tag[0] == 'e' || tag[0] == 'E') && (tag[1] == 'n' || tag[1] == 'N')) return Lang::en;
  return Lang::zh;
}
[[nodiscard]] inline const char* lang_tag(Lang lang) {
  return lang == Lang::en ? "en" : "zh-CN";
}

// A user-facing string in both languages; Chinese is the fallback.
struct Text {
  std::string zh;
  std::string en;
  [[nodiscard]] const std::string& in(Lang lang) const { return lang == Lang::en && !en.empty() ? en : zh; }
};

}  // namespace villagebot
