#include "toy_envs/families/family.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "src/counter_rng.h"
#include "src/input_error.h"
#include "toy_envs/tree_passes.h"

namespace disa {

FamilyArgs::FamilyArgs(std::string family, const std::vector<FamilyParam>& params,
                       const std::map<std::string, std::string>& overrides)
    : family_(std::move(family)) {
  for (const FamilyParam& p : params) values_[p.name] = p.default_value;
  for (const auto& [key, value] : overrides) {
    if (!values_.contains(key)) {
      std::vector<std::string> known;
      for (const FamilyParam& p : params) known.push_back(p.name);
      throw InputError(fmt::format("--set {}: unknown parameter of family '{}' (known: {})", key,
                                   family_, fmt::join(known, ", ")));
    }
    values_[key] = value;
  }
  given_ = overrides;
}

void FamilyArgs::refuse_given(const std::string& key, const std::string& why) const {
  if (given_.contains(key)) fail(key, why);
}

const std::string& FamilyArgs::raw(const std::string& key) const { return values_.at(key); }

void FamilyArgs::fail(const std::string& key, const std::string& what) const {
  throw InputError(fmt::format("--set {}={}: {} (family '{}')", key, raw(key), what, family_));
}

int FamilyArgs::get_int(const std::string& key, int lo, int hi) const {
  const std::string& s = raw(key);
  int x = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (ec != std::errc() || end != s.data() + s.size()) fail(key, "expected an integer");
  if (x < lo || x > hi) fail(key, fmt::format("must be in [{}, {}]", lo, hi));
  return x;
}

double FamilyArgs::get_double(const std::string& key, double lo, double hi) const {
  const std::string& s = raw(key);
  double x = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(x)) fail(key, "expected a number");
  if (x < lo || x > hi) fail(key, fmt::format("must be in [{}, {}]", lo, hi));
  return x;
}

bool FamilyArgs::get_bool(const std::string& key) const {
  const std::string& s = raw(key);
  if (s == "true" || s == "1" || s == "on") return true;
  if (s == "false" || s == "0" || s == "off") return false;
  fail(key, "expected true or false");
}

std::string FamilyArgs::get_choice(const std::string& key, const std::vector<std::string>& choices) const {
  const std::string& s = raw(key);
  if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
    fail(key, fmt::format("expected one of {}", fmt::join(choices, ", ")));
  }
  return s;
}

std::vector<double> FamilyArgs::get_doubles(const std::string& key, double lo, double hi) const {
  const std::string& s = raw(key);
  std::vector<double> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    double x = 0;
    const auto [end, ec] = std::from_chars(s.data() + start, s.data() + comma, x);
    if (ec != std::errc() || end != s.data() + comma || !std::isfinite(x)) {
      fail(key, "expected comma-separated numbers");
    }
    if (x < lo || x > hi) fail(key, fmt::format("every entry must be in [{}, {}]", lo, hi));
    out.push_back(x);
    start = comma + 1;
  }
  return out;
}

const std::vector<Family>& registered_families() {
  static const std::vector<Family> families = {
      random_family(),
      strategies_family(),
      multi_prompt_family(),
  };
  return families;
}

const Family& find_family(const std::string& name) {
  std::vector<std::string> names;
  for (const Family& f : registered_families()) {
    if (f.name == name) return f;
    names.push_back(f.name);
  }
  throw InputError(fmt::format("--family: unknown family '{}' (known: {})", name, fmt::join(names, ", ")));
}

std::vector<Tree> make_trees(const std::string& family,
                             const std::map<std::string, std::string>& overrides,
                             std::uint64_t seed) {
  const Family& f = find_family(family);
  return f.make(FamilyArgs(f.name, f.params, overrides), seed);
}

void assign_correct_by_mass(Tree& tree, const std::vector<std::int64_t>& leaves,
                            const std::vector<double>& leaf_log_prob, double total_mass,
                            double target, std::uint64_t seed, std::uint64_t stream) {
  // A random order: sort by a uniform key per leaf (ties broken by id).
  const CounterRng rng(seed, stream);
  std::vector<std::pair<double, std::int64_t>> order;
  order.reserve(leaves.size());
  for (std::int64_t y : leaves) order.emplace_back(rng.uniform(static_cast<std::uint64_t>(y)), y);
  std::sort(order.begin(), order.end());
  double mass = 0.0;
  std::int64_t lightest = -1;
  for (const auto& [key, y] : order) {
    tree.reward[y] = 0.0;
    const double m = std::exp(leaf_log_prob[y]) / total_mass;
    if (lightest < 0 || leaf_log_prob[y] < leaf_log_prob[lightest]) lightest = y;
    // target >= 1 takes every leaf: the masses sum to 1 only up to round-off, and a sum that
    // rounds above 1 would leave a leaf incorrect at accuracy 1. Below 1 the test is as it
    // was, so every other tree stays bit for bit.
    if (target >= 1.0 || mass + m <= target) {
      tree.reward[y] = 1.0;
      mass += m;
    }
  }
  if (target > 0.0 && mass == 0.0 && lightest >= 0) tree.reward[lightest] = 1.0;
}

void fill_random_logits(Tree& tree, double temperature, std::uint64_t seed, std::uint64_t stream) {
  const CounterRng rng(seed, stream);
  const std::int64_t n = static_cast<std::int64_t>(tree.logits.size());
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (std::int64_t i = 0; i < n; ++i) tree.logits[i] = rng.normal(static_cast<std::uint64_t>(i)) / temperature;
}

void label_strategies_by_first_action(Tree& tree) {
  const TreeShape& shape = tree.shape;
  const std::int64_t n = shape.num_leaves();
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (std::int64_t y = 0; y < n; ++y) {
    const bool root_eos = shape.has_eos() && y == 0;
    if (root_eos) {
      tree.strategy[y] = kNoStrategy;
      continue;
    }
    // The first action is the leading digit of the leaf's level-order index.
    const int depth = y < shape.horizon_leaf_offset() ? shape.depth_of(y) : shape.horizon();
    std::int64_t i = y < shape.horizon_leaf_offset() ? y - shape.level_offset(depth)
                                                     : y - shape.horizon_leaf_offset();
    for (int d = 1; d < depth; ++d) i /= shape.branching();
    const int a = static_cast<int>(i);
    tree.strategy[y] = (shape.has_eos() && a >= shape.eos()) ? a + 1 : a;
  }
}

}  // namespace disa
