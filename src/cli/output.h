// Small input/output helpers shared by the CLI commands: CSV writing with
// shortest-round-trip numbers, JSONL input line by line, and a progress line that shows
// on a terminal and stays quiet in CI or when stderr is redirected.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace disa::cli {

// A CSV table built in memory and written atomically.
class CsvTable {
 public:
  explicit CsvTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void add_row(const std::vector<std::string>& cells);
  void save(const std::string& path) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string num(double x);
std::string shell_quote(const std::string& s);  // for std::system: 'it'\''s' style  // shortest text that reads back to x; "inf", "nan" spelled out

// Calls f(value, where) for every line of a JSONL input: a file, or "-" for stdin (CRLF
// tolerated). `where` is "--input NAME line N", for the caller's errors; a line that is not
// JSON, or a file that cannot be read, is an InputError naming it.
void for_each_jsonl_line(const std::string& input,
                         const std::function<void(const nlohmann::json& value, const std::string& where)>& f);

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void update(double fraction, const std::string& detail = "");

 private:
  std::string label_;
  bool enabled_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace disa::cli
