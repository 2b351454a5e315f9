// Fuzz target: the people import's reading of a file (core/src/directory/csv.hpp, people_rows.hpp),
// everything the dry run does before it touches the database: decode_csv_bytes (UTF-8, UTF-8 with a
// BOM, else GBK/GB18030), parse_csv, the blank records dropped, parse_header, then parse_row for
// every record, all problems in one ProblemSink. The raw bytes are also parsed as they are, and
// under small limits.
// Invariants: decoded text is valid UTF-8 (and UTF-8 input comes back unchanged); records are in
// file order, on lines that exist, with at most max_fields fields; every problem has a line (only
// the closing "N more" line has none) and reads as valid UTF-8; a row the sink found nothing wrong
// with has a normalised phone (+…), the villager role first and no role twice.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "directory/csv.hpp"
#include "directory/people_rows.hpp"
#include "villagebot/text.hpp"

#include "fuzz_support.hpp"

namespace dir = villagebot::directory;
using villagebot::text::valid_utf8;

namespace {

using villagebot::fuzz::check;

int physical_lines(std::string_view text) {
  int lines = 1;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) ++lines;
  return lines;
}

void check_document(const dir::CsvDocument& doc, std::string_view text, const dir::CsvLimits& limits) {
  const int last_line = physical_lines(text);
  int previous = 0;
  check(doc.records.size() <= limits.max_records);
  for (const auto& r : doc.records) {
    check(r.line >= 1 && r.line <= last_line && r.line > previous);
    previous = r.line;
    check(r.fields.size() <= limits.max_fields && r.field_count >= r.fields.size() && r.field_count >= 1);
  }
  if (doc.error) check(doc.error->line >= 1 && doc.error->line <= last_line && !doc.error->reason.empty());
}

// What import_people does up to the database.
void dry_run(std::string_view bytes) {
  dir::ProblemSink problems;
  const auto text = dir::decode_csv_bytes(bytes);
  if (!text) {
    problems.add(std::max(1, dir::first_invalid_utf8_line(bytes)), "", "neither UTF-8 nor GBK");
    check(dir::first_invalid_utf8_line(bytes) >= 1 || bytes.starts_with("\xEF\xBB\xBF"));
  } else {
    check(valid_utf8(*text));
    if (valid_utf8(bytes)) {
      check(*text == bytes || (bytes.starts_with("\xEF\xBB\xBF") && *text == bytes.substr(3)));
      check(dir::first_invalid_utf8_line(bytes) == 0);
    }
    const dir::CsvLimits limits;
    dir::CsvDocument doc = dir::parse_csv(*text, limits);
    check_document(doc, *text, limits);
    if (doc.error) {
      problems.add(doc.error->line, "", doc.error->reason);
    } else {
      std::erase_if(doc.records, [](const dir::CsvRecord& r) { return dir::blank_record(r); });
      if (!doc.records.empty()) {
        const auto header = dir::parse_header(doc.records.front(), problems);
        if (header) {
          check(header->width <= doc.records.front().fields.size());
          for (int i : header->index) check(i >= -1 && i < static_cast<int>(header->width));
          for (std::size_t i = 1; i < doc.records.size(); ++i) {
            const std::size_t before = problems.total();
            const dir::PersonRow row = dir::parse_row(*header, doc.records[i], problems);
            check(row.line == doc.records[i].line);
            check(row.bad == (problems.total() > before));
            if (!row.bad) {
              check(row.phone.starts_with("+") && villagebot::text::normalise_phone(row.phone) == row.phone);
              check(!row.roles.empty() && row.roles.front() == "villager");
              for (std::size_t k = 0; k < row.roles.size(); ++k)
                check(std::count(row.roles.begin(), row.roles.end(), row.roles[k]) == 1);
              check(row.lang == "zh-CN" || row.lang == "en");
              check(valid_utf8(row.name) && valid_utf8(row.household) && valid_utf8(row.group_path));
            }
          }
        } else {
          check(!problems.empty());
        }
      }
    }
  }
  const std::size_t total = problems.total();
  const auto listed = problems.take();
  check(listed.size() == std::min(total, dir::ProblemSink::kMaxListed + (total > dir::ProblemSink::kMaxListed)));
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const bool more_line = total > dir::ProblemSink::kMaxListed && i + 1 == listed.size();
    check(more_line ? listed[i].line == 0 : listed[i].line >= 1);
    check(!listed[i].reason.empty() && valid_utf8(listed[i].reason) && valid_utf8(listed[i].column));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  dry_run(bytes);
  // The CSV reader on the raw bytes, with the limits a hostile file meets early.
  const dir::CsvLimits small{.max_fields = 3, .max_records = 4};
  check_document(dir::parse_csv(bytes, small), bytes, small);
  return 0;
}
