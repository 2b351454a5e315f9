#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "directory/audit.hpp"
#include "directory/csv.hpp"  // decode_csv_bytes
#include "villagebot/storage.hpp"

// The people register import (PRODUCT.md §5 "People CSV").
namespace villagebot::directory {

struct ImportOptions {
  bool dry_run = false;
  bool skip_bad = false;  // apply the good rows and report the bad ones
  // Who imports: every change is written to the audit log with the record
  // before and after, plus one import.people entry with the counts.
  std::optional<audit::Actor> actor{};
  // Called now and then with (rows done, rows total) while applying.
  std::function<void(std::size_t, std::size_t)> progress{};
};

struct ImportProblem {
  int line;  // 1-based line number in the file (header is line 1); 0: not one line's (database error, "N more")
  std::string column;  // the header as written in the file; "" for the whole row or file
  std::string reason;  // Chinese / English
};

struct ImportReport {
  int rows = 0;  // data rows read
  int persons_created = 0, persons_updated = 0, households_created = 0, households_updated = 0, org_units_created = 0;
  std::vector<ImportProblem> problems;
  bool applied = false;  // true when the database was changed
  // What changed (or, in a dry run, would change): one line per record,
  // "+ person 张三 +8613800000011", "~ household H001: head_name"; at most
  // kMaxChangeLines are listed, `changes` counts them all.
  static constexpr std::size_t kMaxChangeLines = 2000;
  std::vector<std::string> change_lines;
  std::size_t changes = 0;
};

// The file is the register: for every column present in the header, the file's
// value replaces the stored one (an empty cell clears it: no roles beyond
// villager, no identity of that kind, the village root as group, no central
// household, no units answered for). A column absent from the header leaves
// the stored value alone. Households are matched by code, persons by phone.
//
// All-or-nothing: any problem and nothing is written, unless skip_bad, when
// the bad rows are left out (and rows that depend on them) and the rest are
// applied. A file that cannot be read (encoding, unterminated quote, header)
// is always refused. dry_run validates and counts but writes nothing. The
// apply is one storage.write transaction, and only writes what differs: a
// re-import of an unchanged file reports its rows as updated, no problems,
// and applied == false.
ImportReport import_people(Storage& storage, std::string_view file_bytes, const ImportOptions& options);

}  // namespace villagebot::directory
