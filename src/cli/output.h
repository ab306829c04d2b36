// Small output helpers shared by the CLI commands: CSV writing with
// shortest-round-trip numbers, and a progress line that shows on a terminal
// and stays quiet in CI or when stderr is redirected.
#pragma once

#include <chrono>
#include <string>
#include <vector>

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

std::string num(double x);  // shortest text that reads back to x; "inf", "nan" spelled out

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
