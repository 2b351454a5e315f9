#include "directory/people_rows.hpp"

#include <algorithm>
#include <utility>

#include "villagebot/directory.hpp"
#include "villagebot/text.hpp"

namespace villagebot::directory {

namespace {

constexpr std::size_t kMaxHeaderColumns = 100;
constexpr std::size_t kMaxNameChars = 64;
constexpr std::size_t kMaxIdChars = 128;

struct ColumnName {
  Column column;
  std::string_view chinese;
  std::string_view english;
};

constexpr std::array<ColumnName, kColumnCount> kColumnNames = {{
    {Column::household, "户号", "household"},
    {Column::head, "户主", "head"},
    {Column::name, "姓名", "name"},
    {Column::phone, "手机", "phone"},
    {Column::group, "村民小组", "group"},
    {Column::roles, "角色", "roles"},
    {Column::wecom, "企业微信", "wecom_id"},
    {Column::dingtalk, "钉钉", "dingtalk_id"},
    {Column::feishu, "飞书", "feishu_id"},
    {Column::telegram, "telegram", "telegram_id"},
    {Column::lang, "语言", "lang"},
    {Column::central, "中心户", "central_household"},
    {Column::responsible, "负责", "responsible_for"},
}};

struct RoleName {
  std::string_view english;
  std::string_view chinese;
};

constexpr std::array<RoleName, 11> kRoleNames = {{
    {role::kVillager, "村民"},
    {role::kCentralHouseholdHead, "中心户长"},
    {role::kPartyMember, "党员"},
    {role::kGroupLeader, "组长"},
    {role::kCadre, "村干部"},
    {role::kEvaluator, "评议员"},
    {role::kSupervisor, "监督员"},
    {role::kCommander, "指挥长"},
    {role::kEmergencyTeam, "应急队员"},
    {role::kVolunteer, "志愿者"},
    {role::kAdmin, "管理员"},
}};

// Blanks Excel and Chinese input methods leave around cell values.
constexpr std::array<std::string_view, 7> kBlanks = {
    " ", "\t", "\r", "\n", "\xE3\x80\x80" /* U+3000 */, "\xC2\xA0" /* NBSP */, "\xEF\xBB\xBF" /* BOM */};

std::string clean(std::string_view s) {
  auto strip = [&s](bool front) {
    for (std::string_view blank : kBlanks) {
      if (front && s.starts_with(blank)) {
        s.remove_prefix(blank.size());
        return true;
      }
      if (!front && s.ends_with(blank)) {
        s.remove_suffix(blank.size());
        return true;
      }
    }
    return false;
  };
  while (strip(true)) {
  }
  while (strip(false)) {
  }
  // The export guards cells that Excel would run as formulas with a leading
  // apostrophe (CSV injection); the import takes it off again.
  if (s.size() >= 2 && s.front() == '\'') {
    const std::size_t at = s.find_first_not_of('\'');
    if (at != std::string_view::npos && (s[at] == '=' || s[at] == '+' || s[at] == '-' || s[at] == '@'))
      s.remove_prefix(1);
  }
  return std::string(s);
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7F;
  });
}

std::size_t chars(std::string_view utf8) {
  return static_cast<std::size_t>(
      std::count_if(utf8.begin(), utf8.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// A cell echoed back in a problem: bounded, so a hostile cell cannot bloat the report.
std::string shown(std::string_view value) {
  constexpr std::size_t kMaxShown = 40;
  if (chars(value) <= kMaxShown) return std::string(value);
  std::size_t seen = 0;
  std::size_t at = 0;
  for (; at < value.size(); ++at)
    if ((static_cast<unsigned char>(value[at]) & 0xC0) != 0x80 && seen++ == kMaxShown) break;
  return std::string(value.substr(0, at)) + "…";
}

// Splits on any of the separators (each a UTF-8 string); empty parts dropped.
std::vector<std::string> split_any(std::string_view s, std::initializer_list<std::string_view> separators) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  std::size_t i = 0;
  auto flush = [&](std::size_t end) {
    std::string part = clean(s.substr(start, end - start));
    if (!part.empty()) parts.push_back(std::move(part));
  };
  while (i < s.size()) {
    std::size_t matched = 0;
    for (std::string_view sep : separators)
      if (s.substr(i).starts_with(sep)) {
        matched = sep.size();
        break;
      }
    if (matched == 0) {
      ++i;
      continue;
    }
    flush(i);
    i += matched;
    start = i;
  }
  flush(s.size());
  return parts;
}

// Checks an identifier-like cell (household code, chat id): one line, bounded.
std::optional<std::string> check_plain(std::string_view value, std::size_t max_chars, bool spaces_allowed) {
  if (has_control(value)) return "含换行或控制字符 / contains a line break or control character";
  if (!spaces_allowed && value.find(' ') != std::string_view::npos) return "含空格 / contains a space";
  if (chars(value) > max_chars)
    return "过长（最多 " + std::to_string(max_chars) + " 字）/ too long (at most " + std::to_string(max_chars) +
           " characters)";
  return std::nullopt;
}

// "一组 / 东院" → "一组/东院"; "全村" and "*" are the root.
std::optional<std::string> unit_path(std::string_view raw, std::string& error) {
  const std::string value = clean(raw);
  if (value.empty() || value == "全村" || value == "*") return std::string();
  if (has_control(value)) {
    error = "含换行或控制字符 / contains a line break or control character";
    return std::nullopt;
  }
  std::string path;
  std::string rest = value;
  // Full-width slashes come from Chinese input methods.
  for (std::size_t at; (at = rest.find("\xEF\xBC\x8F")) != std::string::npos;) rest.replace(at, 3, "/");
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t end = rest.find('/', start);
    if (end == std::string::npos) end = rest.size();
    const std::string segment = clean(std::string_view(rest).substr(start, end - start));
    if (segment.empty()) {
      error = "路径中有空的一段 / the path has an empty part: " + shown(value);
      return std::nullopt;
    }
    if (chars(segment) > kMaxNameChars) {
      error = "名称过长 / a unit name is too long";
      return std::nullopt;
    }
    if (!path.empty()) path += '/';
    path += segment;
    start = end + 1;
  }
  return path;
}

std::optional<std::string_view> role_of(std::string_view word) {
  const std::string lower = text::ascii_lower(word);
  for (const RoleName& r : kRoleNames)
    if (lower == r.english || word == r.chinese) return r.english;
  return std::nullopt;
}

std::optional<std::string> lang_of(std::string_view word) {
  const std::string lower = text::ascii_lower(word);
  if (lower.empty() || lower == "zh" || lower == "zh-cn" || lower == "zh_cn" || lower == "中文") return "zh-CN";
  if (lower == "en" || lower == "english" || lower == "英文") return "en";
  return std::nullopt;
}

}  // namespace

std::string_view role_chinese(std::string_view english) {
  for (const RoleName& r : kRoleNames)
    if (r.english == english) return r.chinese;
  return {};
}

std::string_view column_header(Column column, bool english) {
  const auto& names = kColumnNames[static_cast<std::size_t>(column)];
  return english ? names.english : names.chinese;
}

const std::vector<std::string_view>& all_roles() {
  static const std::vector<std::string_view> roles = [] {
    std::vector<std::string_view> v;
    for (const RoleName& r : kRoleNames) v.push_back(r.english);
    return v;
  }();
  return roles;
}

void ProblemSink::add(int line, std::string column, std::string reason) {
  ++total_;
  if (listed_.size() < kMaxListed) listed_.push_back(ImportProblem{line, std::move(column), std::move(reason)});
}

std::vector<ImportProblem> ProblemSink::take() {
  std::vector<ImportProblem> out = std::move(listed_);
  if (total_ > out.size()) {
    const std::string more = std::to_string(total_ - out.size());
    out.push_back(ImportProblem{0, "", "另有 " + more + " 个问题未列出 / " + more + " more problems not listed"});
  }
  listed_.clear();
  total_ = 0;
  return out;
}

bool blank_record(const CsvRecord& record) {
  return std::all_of(record.fields.begin(), record.fields.end(), [](const std::string& f) { return clean(f).empty(); });
}

std::optional<Header> parse_header(const CsvRecord& record, ProblemSink& problems) {
  Header header;
  header.line = record.line;
  header.index.fill(-1);
  if (record.field_count > kMaxHeaderColumns) {
    problems.add(record.line, "",
                 "表头列数过多（" + std::to_string(record.field_count) + "）/ too many columns in the header (" +
                     std::to_string(record.field_count) + ", at most " + std::to_string(kMaxHeaderColumns) + ")");
    return std::nullopt;
  }
  std::size_t width = record.fields.size();
  while (width > 0 && clean(record.fields[width - 1]).empty()) --width;
  header.width = width;
  bool ok = true;
  for (std::size_t i = 0; i < width; ++i) {
    const std::string label = clean(record.fields[i]);
    if (label.empty()) {
      problems.add(record.line, "",
                   "第 " + std::to_string(i + 1) + " 列没有表头 / column " + std::to_string(i + 1) + " has no header");
      ok = false;
      continue;
    }
    const std::string lower = text::ascii_lower(label);
    const auto known = std::find_if(kColumnNames.begin(), kColumnNames.end(), [&](const ColumnName& c) {
      return lower == c.chinese || lower == c.english ||
             (c.column == Column::phone && (label == "手机号" || label == "手机号码"));
    });
    if (known == kColumnNames.end()) {
      problems.add(
          record.line, shown(label),
          "未知的表头 / unknown column: " + shown(label) +
              "（可用 / known: 户号 户主 姓名 手机 村民小组 角色 企业微信 钉钉 飞书 telegram 语言 中心户 负责; "
              "household head name phone group roles wecom_id dingtalk_id feishu_id telegram_id lang "
              "central_household responsible_for）");
      ok = false;
      continue;
    }
    const auto c = static_cast<std::size_t>(known->column);
    if (header.index[c] >= 0) {
      problems.add(record.line, label, "表头重复 / duplicate column: " + label);
      ok = false;
      continue;
    }
    header.index[c] = static_cast<int>(i);
    header.label[c] = label;
  }
  for (Column required : {Column::household, Column::name, Column::phone}) {
    if (header.has(required)) continue;
    const ColumnName& names = kColumnNames[static_cast<std::size_t>(required)];
    problems.add(
        record.line, std::string(names.chinese),
        "缺少必填列 / missing required column: " + std::string(names.chinese) + "/" + std::string(names.english));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return header;
}

PersonRow parse_row(const Header& header, const CsvRecord& record, ProblemSink& problems) {
  PersonRow row;
  row.line = record.line;
  auto fail = [&](Column c, std::string reason) {
    problems.add(record.line, header.label_of(c), std::move(reason));
    row.bad = true;
  };
  auto raw = [&](Column c) -> std::string_view {
    const int i = header.index[static_cast<std::size_t>(c)];
    if (i < 0 || static_cast<std::size_t>(i) >= record.fields.size()) return {};
    return record.fields[static_cast<std::size_t>(i)];
  };

  bool extra = record.field_count > record.fields.size();
  for (std::size_t i = header.width; i < record.fields.size() && !extra; ++i) extra = !clean(record.fields[i]).empty();
  if (extra) {
    problems.add(record.line, "",
                 "列数多于表头（" + std::to_string(record.field_count) + " > " + std::to_string(header.width) +
                     "）/ more fields than the header has columns (" + std::to_string(record.field_count) + " > " +
                     std::to_string(header.width) + ")");
    row.bad = true;
    return row;  // the columns are probably shifted: checking them would only add noise
  }

  row.household = clean(raw(Column::household));
  if (row.household.empty())
    fail(Column::household, "户号为空 / household code is missing");
  else if (auto e = check_plain(row.household, kMaxNameChars, true))
    fail(Column::household, *e);

  row.name = clean(raw(Column::name));
  if (row.name.empty())
    fail(Column::name, "姓名为空 / name is missing");
  else if (auto e = check_plain(row.name, kMaxNameChars, true))
    fail(Column::name, *e);

  row.head = clean(raw(Column::head));
  if (auto e = check_plain(row.head, kMaxNameChars, true)) fail(Column::head, *e);

  std::string phone;
  for (char c : clean(raw(Column::phone)))
    if (c != ' ' && c != '-') phone += c;
  if (phone.empty()) {
    fail(Column::phone, "手机号为空 / phone number is missing");
  } else if (auto e164 = has_control(phone) ? std::nullopt : text::normalise_phone(phone)) {
    row.phone = *e164;
  } else {
    fail(Column::phone, "手机号无效 / invalid phone number");
  }

  std::string error;
  if (auto path = unit_path(raw(Column::group), error))
    row.group_path = *path;
  else
    fail(Column::group, error);

  row.roles.emplace_back(role::kVillager);
  for (const std::string& word :
       split_any(raw(Column::roles), {"、", ";", "|", "，", "；", "｜", " ", "\r", "\n", "\t", "\xE3\x80\x80"})) {
    if (auto r = role_of(word)) {
      if (std::find(row.roles.begin(), row.roles.end(), *r) == row.roles.end()) row.roles.emplace_back(*r);
    } else {
      fail(Column::roles, "未知角色 / unknown role: " + shown(word));
    }
  }

  for (std::size_t k = 0; k < kIdentityColumnCount; ++k) {
    const Column c = identity_column(k);
    row.identities[k] = clean(raw(c));
    if (auto e = check_plain(row.identities[k], kMaxIdChars, false)) fail(c, *e);
  }

  const std::string lang = clean(raw(Column::lang));
  if (auto l = lang_of(lang))
    row.lang = *l;
  else
    fail(Column::lang, "未知语言 / unknown language: " + shown(lang) + "（可用 / use: zh-CN, en）");

  row.central = clean(raw(Column::central));
  if (auto e = check_plain(row.central, kMaxNameChars, true)) fail(Column::central, *e);

  for (const std::string& item : split_any(raw(Column::responsible), {"、", ";", "|", "，", "；", "｜", "\r", "\n"})) {
    if (auto path = unit_path(item, error)) {
      if (std::find(row.responsible_for.begin(), row.responsible_for.end(), *path) == row.responsible_for.end())
        row.responsible_for.push_back(*path);
    } else {
      fail(Column::responsible, error);
    }
  }
  return row;
}

}  // namespace villagebot::directory
