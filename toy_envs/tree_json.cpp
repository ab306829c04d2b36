#include "toy_envs/tree_json.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "src/atomic_file.h"
#include "src/byte_size.h"
#include "src/input_error.h"
#include "src/json_strict.h"
#include "src/log_sum_exp.h"

namespace disa {
namespace {

using nlohmann::json;

constexpr char kMagic[8] = {'D', 'I', 'S', 'A', 'T', 'R', 'E', 'E'};

// Errors carry the source (file name) and the JSON path of the offending value.
class Validator {
 public:
  explicit Validator(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw InputError(fmt::format("{}: {}: {}", source_, path.empty() ? "/" : path, what));
  }

  const json& member(const json& obj, const std::string& path, const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(path, fmt::format("missing key \"{}\"", key));
    return *it;
  }

  void only_keys(const json& obj, const std::string& path,
                 std::initializer_list<const char*> allowed) const {
    if (!obj.is_object()) fail(path, fmt::format("expected an object, got {}", obj.type_name()));
    for (const auto& [key, value] : obj.items()) {
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) fail(path + "/" + key, "unknown key");
    }
  }

  std::int64_t integer(const json& v, const std::string& path, std::int64_t lo,
                       std::int64_t hi) const {
    if (!v.is_number_integer()) fail(path, fmt::format("expected an integer, got {}", v.dump()));
    const std::int64_t x = v.get<std::int64_t>();
    if (x < lo || x > hi) fail(path, fmt::format("{} is outside [{}, {}]", x, lo, hi));
    return x;
  }

  double finite(const json& v, const std::string& path) const {
    if (!v.is_number()) fail(path, fmt::format("expected a number, got {}", v.dump()));
    const double x = v.get<double>();
    if (!std::isfinite(x)) fail(path, "not a finite number");
    return x;
  }

  std::vector<int> actions(const json& v, const std::string& path, int vocab) const {
    if (!v.is_array()) fail(path, fmt::format("expected an array of actions, got {}", v.type_name()));
    std::vector<int> out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      out.push_back(static_cast<int>(integer(v[i], fmt::format("{}/{}", path, i), 0, vocab - 1)));
    }
    return out;
  }

  void check_format(const json& doc, const std::string& path, const char* format) const {
    const json& f = member(doc, path, "format");
    if (!f.is_string() || f.get<std::string>() != format) {
      fail(path + "/format", fmt::format("expected \"{}\", got {}", format, f.dump()));
    }
    const json& version = member(doc, path, "version");
    if (!version.is_number_integer() || version.get<std::int64_t>() != 1) {
      fail(path + "/version", fmt::format("expected 1, got {}", version.dump()));
    }
  }

 private:
  std::string source_;
};

// Fills the [num_internal, V] logits from a "nodes" array, each node exactly once.
// allow_null: null entries mean -inf (policies only; a tree's reference is finite).
void read_nodes(const Validator& check, const json& nodes, const std::string& path,
                const TreeShape& shape, std::vector<double>& logits, bool allow_null) {
  if (!nodes.is_array()) check.fail(path, fmt::format("expected an array, got {}", nodes.type_name()));
  const int V = shape.vocab();
  std::vector<char> seen(static_cast<std::size_t>(shape.num_internal()), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::string at = fmt::format("{}/{}", path, i);
    check.only_keys(nodes[i], at, {"prefix", "logits"});
    const std::vector<int> prefix = check.actions(check.member(nodes[i], at, "prefix"), at + "/prefix", V);
    std::string why;
    const auto id = shape.node_from_prefix(prefix, &why);
    if (!id) check.fail(at + "/prefix", fmt::format("[{}] is not an internal node: {}", fmt::join(prefix, ","), why));
    if (seen[*id]) check.fail(at + "/prefix", fmt::format("node [{}] appears twice", fmt::join(prefix, ",")));
    seen[*id] = 1;
    const json& row = check.member(nodes[i], at, "logits");
    if (!row.is_array() || row.size() != static_cast<std::size_t>(V)) {
      check.fail(at + "/logits", fmt::format("expected an array of {} numbers (vocab), got {}", V,
                                             row.is_array() ? fmt::format("{} entries", row.size()) : row.type_name()));
    }
    for (int a = 0; a < V; ++a) {
      const std::string ap = fmt::format("{}/logits/{}", at, a);
      logits[*id * V + a] = (allow_null && row[a].is_null()) ? -INFINITY : check.finite(row[a], ap);
    }
  }
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
    if (!seen[s]) {
      check.fail(path, fmt::format("internal node with prefix [{}] is missing ({} of {} nodes given)",
                                   fmt::join(shape.prefix(s), ","), nodes.size(), shape.num_internal()));
    }
  }
}

Tree tree_from_json(const Validator& check, const json& doc, const std::string& path) {
  check.only_keys(doc, path, {"format", "version", "vocab", "horizon", "eos", "nodes", "leaves"});
  check.check_format(doc, path, "disa-tree");
  const int vocab = static_cast<int>(check.integer(check.member(doc, path, "vocab"), path + "/vocab", 2, 1 << 24));
  const int horizon = static_cast<int>(check.integer(check.member(doc, path, "horizon"), path + "/horizon", 1, 4096));
  const json& eos_json = check.member(doc, path, "eos");
  const int eos = eos_json.is_null() ? kNoEos
                                     : static_cast<int>(check.integer(eos_json, path + "/eos", 0, vocab - 1));
  TreeShape shape;
  try {
    shape = TreeShape::make(vocab, horizon, eos);
  } catch (const InputError& e) {
    check.fail(path, e.what());
  }
  try {
    check_fits_in_memory(shape);
  } catch (const InputError& e) {
    check.fail(path, e.what());
  }
  Tree tree = Tree::zeros(shape);
  read_nodes(check, check.member(doc, path, "nodes"), path + "/nodes", shape, tree.logits, false);

  const json& leaves = check.member(doc, path, "leaves");
  const std::string lp = path + "/leaves";
  if (!leaves.is_array()) check.fail(lp, fmt::format("expected an array, got {}", leaves.type_name()));
  std::vector<char> seen(static_cast<std::size_t>(shape.num_leaves()), 0);
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const std::string at = fmt::format("{}/{}", lp, i);
    check.only_keys(leaves[i], at, {"path", "reward", "strategy"});
    const std::vector<int> actions = check.actions(check.member(leaves[i], at, "path"), at + "/path", vocab);
    std::string why;
    const auto id = shape.leaf_from_path(actions, &why);
    if (!id) check.fail(at + "/path", fmt::format("[{}] is not a leaf: {}", fmt::join(actions, ","), why));
    if (seen[*id]) check.fail(at + "/path", fmt::format("leaf [{}] appears twice", fmt::join(actions, ",")));
    seen[*id] = 1;
    tree.reward[*id] = check.finite(check.member(leaves[i], at, "reward"), at + "/reward");
    const auto k = leaves[i].find("strategy");
    if (k != leaves[i].end() && !k->is_null()) {
      tree.strategy[*id] = static_cast<std::int32_t>(check.integer(*k, at + "/strategy", 0, kMaxStrategy));
    }
  }
  for (std::int64_t y = 0; y < shape.num_leaves(); ++y) {
    if (!seen[y]) {
      check.fail(lp, fmt::format("leaf with path [{}] is missing ({} of {} leaves given)",
                                 fmt::join(shape.path(y), ","), leaves.size(), shape.num_leaves()));
    }
  }
  return tree;
}

json parse_json(const std::string& text, const std::string& source) {
  try {
    return parse_json_strict(text, source);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400
    throw InputError(fmt::format("{}: not valid JSON ({})", source, e.what()));
  }
}

std::string read_file(const std::string& path) {
  // An ifstream opens a folder without complaint; its size would then be a filesystem
  // error naming nothing the user gave.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(fmt::format("{}: is a folder, not a file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open for reading", path));
  // The JSON document model takes about 11x the file size (measured: a 185 MB
  // tree file of 10^6 leaves peaks at 2.1 GB); refuse before parsing rather than
  // run out of memory half way.
  constexpr double kDomBytesPerFileByte = 16.0;
  const auto too_large = [&](double file_bytes) {
    return InputError(
        fmt::format("{}: a JSON file of {} needs about {} to parse, more than the {} budget; "
                    "save large trees in the binary format (--out FILE.dtree)",
                    path, byte_size(file_bytes), byte_size(kDomBytesPerFileByte * file_bytes),
                    byte_size(static_cast<double>(tree_memory_budget()))));
  };
  const double limit = static_cast<double>(tree_memory_budget()) / kDomBytesPerFileByte;
  // A pipe or a device (/dev/stdin, /dev/null) has no size: file_size threw a filesystem
  // error naming nothing the user gave (exit 1). It is read in chunks against the budget.
  std::error_code no_size;
  const std::uintmax_t size = std::filesystem::file_size(path, no_size);
  if (!no_size) {
    if (static_cast<double>(size) > limit) throw too_large(static_cast<double>(size));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (static_cast<double>(text.size()) > limit) throw too_large(static_cast<double>(text.size()));
  }
  return text;
}

// Shortest text that reads back to the same double; null for -inf (policies).
// -0.0 is written "-0.0": "-0" would read back as the integer 0, i.e. +0.0.
void write_number(std::ostream& out, double x) {
  if (x == 0.0 && std::signbit(x)) {
    out << "-0.0";
  } else if (std::isfinite(x)) {
    out << fmt::format("{}", x);
  } else {
    out << "null";
  }
}

void write_nodes(std::ostream& out, const TreeShape& shape, std::span<const double> logits) {
  const int V = shape.vocab();
  out << "\"nodes\":[";
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
    out << (s ? ",\n" : "\n") << "{\"prefix\":[" << fmt::format("{}", fmt::join(shape.prefix(s), ","))
        << "],\"logits\":[";
    for (int a = 0; a < V; ++a) {
      if (a) out << ',';
      write_number(out, logits[s * V + a]);
    }
    out << "]}";
  }
  out << "]";
}

void write_tree_json(std::ostream& out, const Tree& tree) {
  const TreeShape& shape = tree.shape;
  out << fmt::format("{{\"format\":\"disa-tree\",\"version\":1,\"vocab\":{},\"horizon\":{},\"eos\":{},\n",
                     shape.vocab(), shape.horizon(), shape.has_eos() ? std::to_string(shape.eos()) : "null");
  write_nodes(out, shape, tree.logits);
  out << ",\n\"leaves\":[";
  for (std::int64_t y = 0; y < shape.num_leaves(); ++y) {
    out << (y ? ",\n" : "\n") << "{\"path\":[" << fmt::format("{}", fmt::join(shape.path(y), ","))
        << "],\"reward\":";
    write_number(out, tree.reward[y]);
    if (tree.strategy[y] != kNoStrategy) out << ",\"strategy\":" << tree.strategy[y];
    out << '}';
  }
  out << "]}";
}

template <class T>
void write_raw(std::ostream& out, const T* data, std::size_t n) {
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(T)));
}

void save_tree_binary(const Tree& tree, const std::string& path) {
  write_file_atomically(path, [&](std::ostream& out) {
    const TreeShape& s = tree.shape;
    const std::uint32_t version = 1;
    const std::int32_t header[3] = {s.vocab(), s.horizon(), s.eos()};
    const std::int64_t counts[2] = {s.num_internal(), s.num_leaves()};
    write_raw(out, kMagic, 8);
    write_raw(out, &version, 1);
    write_raw(out, header, 3);
    write_raw(out, counts, 2);
    write_raw(out, tree.logits.data(), tree.logits.size());
    write_raw(out, tree.reward.data(), tree.reward.size());
    write_raw(out, tree.strategy.data(), tree.strategy.size());
  }, /*binary=*/true);
}

Tree load_tree_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open for reading", path));
  const auto read = [&](void* dst, std::size_t bytes, const char* what) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
    if (!in) throw InputError(fmt::format("{}: truncated binary tree (while reading {})", path, what));
  };
  char magic[8];
  std::uint32_t version = 0;
  std::int32_t header[3];
  std::int64_t counts[2];
  read(magic, 8, "magic");
  read(&version, 4, "version");
  if (version != 1) throw InputError(fmt::format("{}: version: expected 1, got {}", path, version));
  read(header, sizeof header, "header");
  read(counts, sizeof counts, "counts");
  TreeShape shape;
  try {
    shape = TreeShape::make(header[0], header[1], header[2]);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", path, e.what()));
  }
  if (counts[0] != shape.num_internal() || counts[1] != shape.num_leaves()) {
    throw InputError(fmt::format("{}: counts ({} nodes, {} leaves) do not match {} ({} nodes, {} leaves)",
                                 path, counts[0], counts[1], shape.describe(), shape.num_internal(),
                                 shape.num_leaves()));
  }
  // The file must be exactly as long as its header says before anything is allocated: a
  // 40-byte file claiming a deep tree made the loader take 390 MB before it found the
  // file truncated, and bytes after the last leaf were ignored. (In double: exact far
  // beyond any file that fits the memory budget.)
  constexpr double kHeaderBytes = 8 + 4 + sizeof header + sizeof counts;
  const double declared = kHeaderBytes + 8.0 * static_cast<double>(shape.num_internal()) * shape.vocab() +
                          12.0 * static_cast<double>(shape.num_leaves());
  std::error_code no_size;  // a pipe has none: then only a short read can say it is truncated
  const std::uintmax_t actual = std::filesystem::file_size(path, no_size);
  if (!no_size && declared != static_cast<double>(actual)) {
    throw InputError(fmt::format("{}: {} bytes, but its header ({}) makes a file of {:.0f} bytes: {}", path, actual,
                                 shape.describe(), declared,
                                 declared > static_cast<double>(actual) ? "truncated" : "trailing bytes after the tree"));
  }
  Tree tree;
  try {
    tree = Tree::zeros(shape);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", path, e.what()));
  }
  read(tree.logits.data(), tree.logits.size() * sizeof(double), "logits");
  read(tree.reward.data(), tree.reward.size() * sizeof(double), "reward");
  read(tree.strategy.data(), tree.strategy.size() * sizeof(std::int32_t), "strategy");
  for (std::size_t i = 0; i < tree.logits.size(); ++i) {
    if (!std::isfinite(tree.logits[i])) {
      throw InputError(fmt::format("{}: logits of node {} action {}: not a finite number", path,
                                   i / shape.vocab(), i % shape.vocab()));
    }
  }
  for (std::size_t y = 0; y < tree.reward.size(); ++y) {
    if (!std::isfinite(tree.reward[y])) throw InputError(fmt::format("{}: reward of leaf {}: not a finite number", path, y));
    if (tree.strategy[y] < kNoStrategy || tree.strategy[y] > kMaxStrategy) {
      throw InputError(fmt::format("{}: strategy of leaf {}: {} is outside [{}, {}]", path, y, tree.strategy[y],
                                   kNoStrategy, kMaxStrategy));
    }
  }
  return tree;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<Tree> parse_trees_json(const std::string& text, const std::string& source) {
  const Validator check(source);
  const json doc = parse_json(text, source);
  if (!doc.is_object()) check.fail("", fmt::format("expected an object, got {}", doc.type_name()));
  const json& format = check.member(doc, "", "format");
  if (format == "disa-tree-set") {
    check.only_keys(doc, "", {"format", "version", "trees"});
    check.check_format(doc, "", "disa-tree-set");
    const json& trees = check.member(doc, "", "trees");
    if (!trees.is_array() || trees.empty()) check.fail("/trees", "expected a non-empty array of trees");
    std::vector<Tree> out;
    for (std::size_t i = 0; i < trees.size(); ++i) out.push_back(tree_from_json(check, trees[i], fmt::format("/trees/{}", i)));
    return out;
  }
  std::vector<Tree> out;
  out.push_back(tree_from_json(check, doc, ""));
  return out;
}

std::vector<Tree> load_trees(const std::string& path) {
  // A pipe (/dev/stdin) is read once: peeking at its magic would lose its first bytes.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec) &&
      !std::filesystem::is_directory(path, ec)) {
    const std::string text = read_file(path);
    if (text.size() >= 8 && std::memcmp(text.data(), kMagic, 8) == 0) {
      throw InputError(fmt::format("{}: a binary tree (.dtree) is read from a regular file only", path));
    }
    return parse_trees_json(text, path);
  }
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open for reading", path));
    char magic[8] = {};
    in.read(magic, 8);
    if (in && std::memcmp(magic, kMagic, 8) == 0) {
      std::vector<Tree> out;
      out.push_back(load_tree_binary(path));
      return out;
    }
  }
  return parse_trees_json(read_file(path), path);
}

Tree load_tree(const std::string& path) {
  std::vector<Tree> trees = load_trees(path);
  if (trees.size() != 1) {
    throw InputError(fmt::format("{}: holds {} trees (a disa-tree-set); this command takes one tree",
                                 path, trees.size()));
  }
  return std::move(trees[0]);
}

void save_tree(const Tree& tree, const std::string& path) {
  if (ends_with(path, ".dtree")) {
    save_tree_binary(tree, path);
    return;
  }
  write_file_atomically(path, [&](std::ostream& out) { write_tree_json(out, tree); });
}

void save_trees(const std::vector<Tree>& trees, const std::string& path) {
  if (trees.size() == 1) {
    save_tree(trees[0], path);
    return;
  }
  if (ends_with(path, ".dtree")) {
    throw InputError(fmt::format("--out: {}: the binary format holds one tree; use .json for a set of {}",
                                 path, trees.size()));
  }
  write_file_atomically(path, [&](std::ostream& out) {
    out << "{\"format\":\"disa-tree-set\",\"version\":1,\"trees\":[\n";
    for (std::size_t i = 0; i < trees.size(); ++i) {
      if (i) out << ",\n";
      write_tree_json(out, trees[i]);
    }
    out << "]}\n";
  });
}

void save_policy(const TabularPolicy& policy, const std::string& path) {
  write_file_atomically(path, [&](std::ostream& out) {
    out << "{\"format\":\"disa-policy\",\"version\":1,\n";
    write_nodes(out, policy.shape, policy.log_prob);
    out << "}\n";
  });
}

TabularPolicy parse_policy_json(const std::string& text, const std::string& source,
                                const TreeShape& shape) {
  const Validator check(source);
  const json doc = parse_json(text, source);
  check.only_keys(doc, "", {"format", "version", "nodes"});
  check.check_format(doc, "", "disa-policy");
  std::vector<double> logits(static_cast<std::size_t>(shape.num_internal() * shape.vocab()));
  read_nodes(check, check.member(doc, "", "nodes"), "/nodes", shape, logits, true);
  try {
    TabularPolicy policy = TabularPolicy::from_logits(shape, logits);
    // Rows that already are log-probabilities (what save_policy writes) are kept
    // bit for bit: re-normalising them moves them by round-off, and save/load
    // would not be lossless.
    const int V = shape.vocab();
    for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
      const std::span<const double> row(logits.data() + s * V, static_cast<std::size_t>(V));
      if (std::fabs(log_sum_exp(row)) <= 1e-12) std::copy(row.begin(), row.end(), policy.log_prob.begin() + s * V);
    }
    return policy;
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", source, e.what()));
  }
}

TabularPolicy load_policy(const std::string& path, const TreeShape& shape) {
  return parse_policy_json(read_file(path), path, shape);
}

}  // namespace disa
