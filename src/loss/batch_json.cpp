#include "src/loss/batch_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "src/input_error.h"
#include "src/json_number.h"
#include "src/json_strict.h"

namespace disa::loss {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Matrices first so that T is fixed by the first one present; then the per-sequence fields.
constexpr std::array<std::string_view, 8> kFields = {"logp",       "logp_old", "logp_ref", "mask",
                                                     "advantages", "reward",   "group",    "log_z"};

std::string known_fields() {
  std::string s;
  for (std::string_view f : kFields) s += fmt::format("{}{}", s.empty() ? "" : ", ", f);
  return s;
}

// A value as it appears in the file, cut short: messages stay one readable line.
std::string describe(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

void reject_unknown_keys(const json& document, const std::vector<std::string>& extra_keys) {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : document.items()) {
    const bool known = std::find(kFields.begin(), kFields.end(), key) != kFields.end() ||
                       std::find(extra_keys.begin(), extra_keys.end(), key) != extra_keys.end();
    if (!known) unknown.push_back(key);
  }
  if (unknown.empty()) return;
  std::string names;
  for (const std::string& k : unknown) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", k);
  std::string hint;
  if (unknown.size() == 1) {
    for (std::string_view f : kFields) {
      if (edit_distance(unknown.front(), f) <= 2) {
        hint = fmt::format(" (did you mean \"{}\"?)", f);
        break;
      }
    }
  }
  throw InputError(fmt::format("{}: unknown batch field{}{}; a batch holds {}", names, unknown.size() > 1 ? "s" : "",
                               hint, known_fields()));
}

double number_at(const json& v, const std::string& path) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    if (const auto x = from_json_number(ordered_json(v.get_ref<const std::string&>()))) return *x;
  }
  throw InputError(fmt::format("{}: expected a number (or \"nan\", \"inf\", \"-inf\"), got {}", path, describe(v)));
}

// B (and T) are fixed by the first field that shows them; later fields must agree, and
// their messages say which field set the expectation.
struct Shape {
  std::optional<std::size_t> rows;
  std::string rows_from;
  std::optional<std::size_t> columns;
  std::string columns_from;

  void check_rows(std::string_view field, std::size_t got, std::string_view unit) {
    if (!rows) {
      rows = got;
      rows_from = field;
    } else if (*rows != got) {
      throw InputError(fmt::format("{}: expected {} {} (as {}), got {}", field, *rows, unit, rows_from, got));
    }
  }

  void check_columns(std::string_view field, std::size_t row, std::size_t got) {
    if (!columns) {
      columns = got;
      columns_from = field;
    } else if (*columns != got) {
      throw InputError(fmt::format("{}[{}]: row has {} entries, expected {}{}", field, row, got, *columns,
                                   columns_from == field ? "" : fmt::format(" (as {})", columns_from)));
    }
  }
};

const json& array_field(const json& document, std::string_view field, std::string_view expected) {
  const json& v = document.at(std::string(field));
  if (!v.is_array()) throw InputError(fmt::format("{}: expected {}, got {}", field, expected, describe(v)));
  return v;
}

// A B x T matrix, row-major. Mask entries must be exactly 0 or 1.
std::vector<double> read_matrix(const json& document, std::string_view field, Shape& shape) {
  const json& rows = array_field(document, field, "a list of rows (lists of numbers)");
  shape.check_rows(field, rows.size(), "rows");
  std::vector<double> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json& row = rows[i];
    if (!row.is_array()) {
      throw InputError(fmt::format("{}[{}]: expected a row (a list of numbers), got {}", field, i, describe(row)));
    }
    shape.check_columns(field, i, row.size());
    if (out.empty()) out.reserve(rows.size() * row.size());
    for (std::size_t t = 0; t < row.size(); ++t) {
      const std::string path = fmt::format("{}[{}][{}]", field, i, t);
      const double x = number_at(row[t], path);
      if (field == "mask" && x != 0.0 && x != 1.0) {
        throw InputError(fmt::format("{}: expected 0 or 1, got {}", path, describe(row[t])));
      }
      out.push_back(x);
    }
  }
  return out;
}

std::vector<double> read_vector(const json& document, std::string_view field, Shape& shape) {
  const json& values = array_field(document, field, "a list of numbers, one per sequence");
  shape.check_rows(field, values.size(), "entries");
  std::vector<double> out;
  out.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_array()) {
      throw InputError(fmt::format("{}[{}]: expected a number (one per sequence), got a list", field, i));
    }
    out.push_back(number_at(values[i], fmt::format("{}[{}]", field, i)));
  }
  return out;
}

std::vector<std::int64_t> read_groups(const json& document, Shape& shape) {
  const json& values = array_field(document, "group", "a list of integer group ids, one per sequence");
  shape.check_rows("group", values.size(), "entries");
  std::vector<std::int64_t> out;
  out.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const json& v = values[i];
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw InputError(fmt::format("group[{}]: {} does not fit a 64-bit signed integer", i, u));
      }
      out.push_back(static_cast<std::int64_t>(u));
    } else if (v.is_number_integer()) {
      out.push_back(v.get<std::int64_t>());
    } else {
      throw InputError(fmt::format("group[{}]: expected an integer, got {}", i, describe(v)));
    }
  }
  return out;
}

bool present(const json& document, std::string_view field) {
  const auto it = document.find(std::string(field));
  return it != document.end() && !it->is_null();
}

ordered_json vector_json(const std::vector<double>& values) {
  ordered_json out = ordered_json::array();
  for (double x : values) out.push_back(to_json_number(x));
  return out;
}

}  // namespace

BatchData<double> batch_from_json(const json& document, const std::vector<std::string>& extra_keys) {
  if (!document.is_object()) {
    throw InputError(
        fmt::format("batch: expected a JSON object with fields {}, got {}", known_fields(), describe(document)));
  }
  reject_unknown_keys(document, extra_keys);
  BatchData<double> batch;
  Shape shape;
  for (std::string_view field : {"logp", "logp_old", "logp_ref", "mask"}) {
    if (!present(document, field)) continue;
    std::vector<double> values = read_matrix(document, field, shape);
    if (field == "logp") batch.logp = std::move(values);
    if (field == "logp_old") batch.logp_old = std::move(values);
    if (field == "logp_ref") batch.logp_ref = std::move(values);
    if (field == "mask") batch.mask = std::move(values);
  }
  if (present(document, "advantages")) {
    // Per token (a list of rows) or per sequence (a list of numbers), told apart by the
    // first entry; a mix fails on the first entry of the other kind.
    const json& a = array_field(document, "advantages", "a list of rows (per token) or of numbers (per sequence)");
    const bool per_token = !a.empty() && a.front().is_array();
    batch.advantages =
        per_token ? read_matrix(document, "advantages", shape) : read_vector(document, "advantages", shape);
  }
  if (present(document, "reward")) batch.reward = read_vector(document, "reward", shape);
  if (present(document, "group")) batch.group = read_groups(document, shape);
  if (present(document, "log_z")) batch.log_z = read_vector(document, "log_z", shape);
  batch.rows = shape.rows.value_or(0);
  batch.columns = shape.columns.value_or(0);
  return batch;
}

BatchData<double> load_batch(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format("{}: is a directory, not a batch file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path));
  json document;
  try {
    document = parse_json_strict(in, path);
  } catch (const json::exception& e) {
    // parse_error (with its line and column), and out_of_range for a number no double
    // holds (1e400): both are a bad file, named, not an internal error.
    std::string what = e.what();
    if (const auto end = what.find("] "); what.starts_with("[json.exception") && end != std::string::npos) {
      what = what.substr(end + 2);
    }
    // Python's json.dump writes bare NaN/Infinity, which is not JSON.
    const std::string hint = what.find("invalid literal") != std::string::npos
                                 ? "; non-finite numbers are the strings \"nan\", \"inf\", \"-inf\""
                                 : "";
    throw InputError(fmt::format("{}: not valid JSON ({}){}", path, what, hint));
  }
  try {
    return batch_from_json(document);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", path, e.what()));
  }
}

ordered_json result_to_json(const Objective& objective, const LossBatch<double>& batch,
                            const LossResult<double>& result) {
  const std::size_t rows = batch.rows, columns = batch.columns;
  if (result.grad_logp.size() != rows * columns) {
    throw std::logic_error(fmt::format("{}: grad_logp has {} entries for a {} x {} batch", objective.name,
                                       result.grad_logp.size(), rows, columns));
  }
  ordered_json j;
  j["objective"] = objective.name;
  ordered_json options = ordered_json::object();
  for (const auto& [key, value] : option_list(objective)) options[key] = value;
  j["options"] = std::move(options);
  j["loss"] = to_json_number(result.loss);
  ordered_json grad = ordered_json::array();
  for (std::size_t i = 0; i < rows; ++i) {
    ordered_json row = ordered_json::array();
    for (std::size_t t = 0; t < columns; ++t) row.push_back(to_json_number(result.grad_logp[i * columns + t]));
    grad.push_back(std::move(row));
  }
  j["grad_logp"] = std::move(grad);
  if (!result.grad_log_z.empty()) j["grad_log_z"] = vector_json(result.grad_log_z);
  // Diagnostics sit beside the fixed keys so a reader finds e.g. j["pg_clipfrac"] as in
  // the golden files; a head naming one like a fixed key would silently overwrite it.
  const auto put = [&](const std::string& name, ordered_json value) {
    if (j.contains(name)) {
      throw std::logic_error(fmt::format("{}: diagnostic \"{}\" collides with an output field", objective.name, name));
    }
    j[name] = std::move(value);
  };
  for (const auto& [name, values] : result.diagnostics.per_sequence) put(name, vector_json(values));
  for (const auto& [name, value] : result.diagnostics.scalars) put(name, to_json_number(value));
  return j;
}

}  // namespace disa::loss
