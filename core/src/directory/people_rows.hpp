#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "directory/csv.hpp"
#include "directory/people_import.hpp"

// The file-only half of the people import: header mapping and per-row
// validation, no database. people_import.cpp does the cross-row and database
// checks and the apply.
namespace villagebot::directory {

enum class Column : std::size_t {
  household,
  head,
  name,
  phone,
  group,
  roles,
  wecom,
  dingtalk,
  feishu,
  telegram,
  lang,
  central,
  responsible
};
inline constexpr std::size_t kColumnCount = 13;
inline constexpr std::size_t kIdentityColumnCount = 4;  // wecom, dingtalk, feishu, telegram, in that order
// The identity kinds of core_identities, in the order of the identity columns.
inline constexpr std::array<std::string_view, kIdentityColumnCount> kIdentityKinds = {"wecom", "dingtalk", "feishu",
                                                                                      "telegram"};

inline constexpr Column identity_column(std::size_t k) {
  return static_cast<Column>(static_cast<std::size_t>(Column::wecom) + k);
}

struct Header {
  std::array<int, kColumnCount> index{};        // field index, -1 when the column is absent
  std::array<std::string, kColumnCount> label;  // as written in the file, for problem reports
  std::size_t width = 0;                        // named columns (trailing unnamed ones dropped)
  int line = 1;

  [[nodiscard]] bool has(Column c) const { return index[static_cast<std::size_t>(c)] >= 0; }
  [[nodiscard]] const std::string& label_of(Column c) const { return label[static_cast<std::size_t>(c)]; }
};

struct PersonRow {
  int line = 0;
  bool bad = false;
  std::string household;
  std::string head;
  std::string name;
  std::string phone;               // E.164
  std::string group_path;          // '' is the village root
  std::vector<std::string> roles;  // canonical English, villager first, no repeats
  std::array<std::string, kIdentityColumnCount> identities;
  std::string lang;  // zh-CN or en
  std::string central;
  std::vector<std::string> responsible_for;  // unit paths, '' is the root
};

// The Chinese name of a role (村干部 for cadre); "" when unknown.
std::string_view role_chinese(std::string_view english);
// A column's header as the import reads it and the export writes it.
std::string_view column_header(Column column, bool english);
// The eleven roles of PRODUCT.md §3, in their canonical order.
const std::vector<std::string_view>& all_roles();

// Collects problems, keeping the list bounded so that a hostile file with a
// million bad rows still gives a report a person can read.
class ProblemSink {
 public:
  static constexpr std::size_t kMaxListed = 1000;
  void add(int line, std::string column, std::string reason);
  [[nodiscard]] bool empty() const { return total_ == 0; }
  [[nodiscard]] std::size_t total() const { return total_; }
  // Moves the problems out, with a closing line saying how many were not listed.
  std::vector<ImportProblem> take();

 private:
  std::vector<ImportProblem> listed_;
  std::size_t total_ = 0;
};

// True when every field is empty or blank: Excel writes such rows for
// formatted but empty lines, and they are not data.
bool blank_record(const CsvRecord& record);

std::optional<Header> parse_header(const CsvRecord& record, ProblemSink& problems);

// Validates one data row; problems are reported and the row marked bad.
PersonRow parse_row(const Header& header, const CsvRecord& record, ProblemSink& problems);

}  // namespace villagebot::directory
