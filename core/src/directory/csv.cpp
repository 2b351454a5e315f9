#include "directory/csv.hpp"

#include <iconv.h>

#include <algorithm>
#include <cstdint>

namespace villagebot::directory {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Length of the valid UTF-8 sequence at `i`, or 0. Strict: no overlong forms,
// no surrogates, nothing above U+10FFFF (a GBK file must not pass for UTF-8).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return n;
}

// Returns the offset of the first invalid byte, or npos.
std::size_t first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::optional<std::string> gb18030_to_utf8(std::string_view in) {
  iconv_t cd = iconv_open("UTF-8", "GB18030");
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  // GB18030 never grows by more than 3/2 in UTF-8 (2 bytes → 3, 4 → 4).
  std::string out(in.size() * 2 + 16, '\0');
  // iconv's API takes non-const input; it does not write through it.
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  const std::size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  const bool ok = rc != static_cast<std::size_t>(-1) && src_left == 0;
  iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(out.size() - dst_left);
  // GB18030 maps every byte sequence it accepts; the result must be UTF-8.
  if (first_invalid_utf8(out) != std::string_view::npos) return std::nullopt;
  return out;
}

}  // namespace

int first_invalid_utf8_line(std::string_view bytes) {
  const std::size_t at = first_invalid_utf8(bytes);
  if (at == std::string_view::npos) return 0;
  int line = 1;
  for (std::size_t i = 0; i < at; ++i)
    if (bytes[i] == '\n' || (bytes[i] == '\r' && (i + 1 >= bytes.size() || bytes[i + 1] != '\n'))) ++line;
  return line;
}

std::optional<std::string> decode_csv_bytes(std::string_view bytes) {
  if (bytes.starts_with(kUtf8Bom)) {
    bytes.remove_prefix(kUtf8Bom.size());
    // A BOM promises UTF-8; falling back to GBK would only hide a broken file.
    if (first_invalid_utf8(bytes) != std::string_view::npos) return std::nullopt;
    return std::string(bytes);
  }
  if (first_invalid_utf8(bytes) == std::string_view::npos) return std::string(bytes);
  return gb18030_to_utf8(bytes);
}

CsvDocument parse_csv(std::string_view text, const CsvLimits& limits) {
  CsvDocument doc;
  std::size_t i = 0;
  int line = 1;
  const std::size_t n = text.size();

  // Consumes a line break at i (CRLF, LF or CR) if there is one.
  auto take_line_end = [&](std::size_t& at) {
    if (at < n && text[at] == '\r') {
      ++at;
      if (at < n && text[at] == '\n') ++at;
      return true;
    }
    if (at < n && text[at] == '\n') {
      ++at;
      return true;
    }
    return false;
  };

  while (i < n) {
    CsvRecord record;
    record.line = line;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < n && text[i] == '"') {
        const int quote_line = line;
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\r' || c == '\n') {
            const std::size_t start = i;
            take_line_end(i);
            field.append(text.substr(start, i - start));
            ++line;
            continue;
          }
          field += c;
          ++i;
        }
        if (!closed) {
          doc.error = CsvError{record.line, "引号未闭合（从第 " + std::to_string(quote_line) +
                                                " 行开始）/ unterminated quoted field starting on line " +
                                                std::to_string(quote_line)};
          return doc;
        }
      }
      // Unquoted text, or what follows a closing quote (kept, as Excel users expect).
      while (i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n') field += text[i++];

      ++record.field_count;
      if (record.fields.size() < limits.max_fields) record.fields.push_back(field);
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (take_line_end(i)) ++line;
      record_done = true;
    }
    const bool blank =
        std::all_of(record.fields.begin(), record.fields.end(), [](const std::string& f) { return f.empty(); });
    if (blank && record.field_count == record.fields.size()) continue;
    if (doc.records.size() == limits.max_records) {
      doc.error = CsvError{record.line, "行数过多（最多 " + std::to_string(limits.max_records) +
                                            " 行），请拆分文件 / too many rows (at most " +
                                            std::to_string(limits.max_records) + "): split the file"};
      return doc;
    }
    doc.records.push_back(std::move(record));
  }
  return doc;
}

}  // namespace villagebot::directory
