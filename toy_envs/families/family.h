// Tree families, made by name from a registry with parameters and a seed.
//
//   make_trees("strategies", {{"masses", "0.9,0.1"}}, /*seed=*/1)
//
// A family returns one tree (random, strategies) or several (multi_prompt). Each
// family is one file in toy_envs/families/ and one line in registry.cpp; copy a
// sibling to add one. Parameters are text (from --set key=value) with defaults;
// an unknown key or a bad value is an InputError naming it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "toy_envs/tree.h"

namespace disa {

struct FamilyParam {
  std::string name;
  std::string default_value;
  std::string help;
};

// Typed access to a family's parameters, with range checks that name the key.
class FamilyArgs {
 public:
  FamilyArgs(std::string family, const std::vector<FamilyParam>& params,
             const std::map<std::string, std::string>& overrides);

  int get_int(const std::string& key, int lo, int hi) const;
  double get_double(const std::string& key, double lo, double hi) const;
  bool get_bool(const std::string& key) const;
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices) const;
  std::vector<double> get_doubles(const std::string& key, double lo, double hi) const;
  // InputError naming `key` when it was given (not left at its default): a parameter the
  // other parameters make meaningless must not look like a setting that took effect.
  void refuse_given(const std::string& key, const std::string& why) const;

 private:
  const std::string& raw(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

  std::string family_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> given_;
};

struct Family {
  std::string name;
  std::string help;
  std::vector<FamilyParam> params;
  std::function<std::vector<Tree>(const FamilyArgs&, std::uint64_t seed)> make;
};

const std::vector<Family>& registered_families();
const Family& find_family(const std::string& name);  // InputError listing the known names

std::vector<Tree> make_trees(const std::string& family,
                             const std::map<std::string, std::string>& overrides,
                             std::uint64_t seed);

// Shared by the families: mark leaves correct (reward 1, others 0) in a random
// order until their reference mass, relative to `total_mass`, reaches `target`
// without passing it (at least one leaf when target > 0; every leaf when target >= 1,
// whatever the round-off in the masses' sum). `leaves` are candidate
// leaf ids, `leaf_log_prob` the reference log-probabilities of all leaves.
void assign_correct_by_mass(Tree& tree, const std::vector<std::int64_t>& leaves,
                            const std::vector<double>& leaf_log_prob, double total_mass,
                            double target, std::uint64_t seed, std::uint64_t stream);

// Reference logits z / temperature with z ~ N(0, 1) from (seed, stream), one draw
// per (node, action): lower temperature, lower entropy.
void fill_random_logits(Tree& tree, double temperature, std::uint64_t seed, std::uint64_t stream);

// Strategy = first action (leaves under a root EOS get no label).
void label_strategies_by_first_action(Tree& tree);

// The families, one per file.
Family random_family();
Family strategies_family();
Family multi_prompt_family();

}  // namespace disa
