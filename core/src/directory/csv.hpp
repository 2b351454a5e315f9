#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace villagebot::directory {

// Decodes UTF-8, UTF-8 with BOM, or GBK (as Excel writes it: detected by
// invalid UTF-8, then converted with iconv "GB18030" → UTF-8) into UTF-8.
// Returns nullopt if neither works.
std::optional<std::string> decode_csv_bytes(std::string_view bytes);

// The 1-based physical line of the first byte that is not valid UTF-8 (0 if
// all of it is valid): so a file that is neither UTF-8 nor GBK can be reported
// at the line a person can find in an editor.
int first_invalid_utf8_line(std::string_view bytes);

struct CsvRecord {
  int line = 0;                     // physical line (1-based) where the record starts
  std::vector<std::string> fields;  // at most CsvLimits::max_fields of them
  std::size_t field_count = 0;      // how many the line really had
};

struct CsvError {
  int line = 0;
  std::string reason;
};

struct CsvLimits {
  // A hostile file must not make us build millions of strings per record, or
  // hold millions of records: a county's register is far below either.
  std::size_t max_fields = 1000;
  std::size_t max_records = 300000;
};

struct CsvDocument {
  std::vector<CsvRecord> records;
  std::optional<CsvError> error;  // set when the file cannot be read any further
};

// RFC 4180 CSV: quoted fields with "" escapes, separators and line breaks
// inside quotes, CRLF, LF or lone CR line ends. Records whose fields are all
// empty (blank lines, Excel's ",,,," rows, the trailing empty line) are dropped. Lenient where Excel is never strict: a
// quote inside an unquoted field, or text after a closing quote, is kept as text.
CsvDocument parse_csv(std::string_view text, const CsvLimits& limits = {});

}  // namespace villagebot::directory
