#include "src/cli/output.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/input_error.h"
#include "src/input_file.h"
#include "src/json_strict.h"

namespace disa::cli {

void CsvTable::add_row(const std::vector<std::string>& cells) {
  if (cells.size() != columns_.size()) {
    throw std::logic_error(fmt::format("CSV row has {} cells for {} columns", cells.size(), columns_.size()));
  }
  rows_.push_back(cells);
}

void CsvTable::save(const std::string& path) const {
  write_file_atomically(path, [&](std::ostream& out) {
    for (std::size_t i = 0; i < columns_.size(); ++i) out << (i ? "," : "") << columns_[i];
    out << '\n';
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i];
      out << '\n';
    }
  });
}

std::string num(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return fmt::format("{}", x);
}

Progress::Progress(std::string label)
    : label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) && std::getenv("CI") == nullptr),
      last_(std::chrono::steady_clock::now() - std::chrono::seconds(1)) {}

Progress::~Progress() {
  if (enabled_) std::fputs("\r\033[K", stderr);
}

void Progress::update(double fraction, const std::string& detail) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100) && fraction < 1.0) return;
  last_ = now;
  std::fprintf(stderr, "\r\033[K%s %3.0f%% %s", label_.c_str(), 100.0 * fraction, detail.c_str());
  std::fflush(stderr);
}

void for_each_jsonl_line(const std::string& input,
                         const std::function<void(const nlohmann::json& value, const std::string& where)>& f) {
  std::ifstream file;
  if (input != "-") {
    refuse_folder_input(input, "--input");
    file.open(input, std::ios::binary);
    if (!file) throw InputError(fmt::format("--input: cannot read '{}'", input));
  }
  std::istream& in = input == "-" ? std::cin : file;
  const std::string name = input == "-" ? "stdin" : input;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    const std::string where = fmt::format("--input {} line {}", name, number);
    nlohmann::json value;
    try {
      value = parse_json_strict(line, where);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: not JSON ({})", where, e.what()));
    }
    f(value, where);
  }
  check_read_completed(in, name, "--input");
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace disa::cli
