// Tests toy_envs/tree_json.h: lossless save/load of trees (JSON, tree sets,
// binary .dtree) and policies, and the validation of bad files.
//
// Against: the original values, compared bit for bit (so -0.0 vs 0.0 and the
// last ulp count), for RapidCheck-generated trees holding awkward doubles
// (1e-300, 0.1, -0.0, 5e-324, DBL_MAX, arbitrary bit patterns); and, for bad
// files, the documented contract: an InputError whose message names the file and
// the JSON path of the first problem (e.g. "/nodes/1/logits/2").
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rapidcheck/gtest.h>

#include "src/input_error.h"
#include "src/log_sum_exp.h"
#include "tests/util/errors.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/tree_json.h"

namespace disa {
namespace {

using nlohmann::json;
using test::contains_all;
using test::input_error_message;

// A scratch directory per process, removed at exit.
class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("disa_tree_json_test_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

const TempDir& temp_dir() {
  static const TempDir dir;
  return dir;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return false;
  }
  return true;
}

bool same_tree(const Tree& a, const Tree& b) {
  return a.shape == b.shape && same_bits(a.logits, b.logits) && same_bits(a.reward, b.reward) &&
         a.strategy == b.strategy;
}

// Finite doubles that are awkward to print and read back.
rc::Gen<double> gen_awkward_double() {
  constexpr double kMax = std::numeric_limits<double>::max();
  constexpr double kMinNormal = std::numeric_limits<double>::min();
  constexpr double kDenormMin = std::numeric_limits<double>::denorm_min();
  return rc::gen::oneOf(
      rc::gen::element(0.0, -0.0, 1e-300, -1e-300, 0.1, 0.2, 1.0 / 3.0, 1e300, -1e300, kMax, -kMax,
                       kMinNormal, kDenormMin, -kDenormMin, 9007199254740993.0, 1e16, 1e17, 123456789.0,
                       -5.0, 2.5e-8),
      rc::gen::suchThat(rc::gen::map(rc::gen::arbitrary<std::uint64_t>(),
                                     [](std::uint64_t bits) { return std::bit_cast<double>(bits); }),
                        [](double x) { return std::isfinite(x); }));
}

rc::Gen<Tree> gen_awkward_tree() {
  return rc::gen::mapcat(test::gen_shape(2, 4, 4, 300), [](const TreeShape& shape) {
    return rc::gen::exec([shape] {
      Tree tree;
      tree.shape = shape;
      const auto n_logits = static_cast<std::size_t>(shape.num_internal() * shape.vocab());
      const auto n_leaves = static_cast<std::size_t>(shape.num_leaves());
      tree.logits = *rc::gen::container<std::vector<double>>(n_logits, gen_awkward_double());
      tree.reward = *rc::gen::container<std::vector<double>>(n_leaves, gen_awkward_double());
      tree.strategy = *rc::gen::container<std::vector<std::int32_t>>(
          n_leaves, rc::gen::oneOf(rc::gen::inRange<std::int32_t>(kNoStrategy, 1000), rc::gen::just(kMaxStrategy)));
      return tree;
    });
  });
}

RC_GTEST_PROP(TreeJson, JsonRoundTripIsBitwiseLossless, ()) {
  const Tree tree = *gen_awkward_tree();
  const std::string path = temp_dir().file("round_trip.json");
  save_tree(tree, path);
  RC_ASSERT(same_tree(load_tree(path), tree));
  // Also through the in-memory parser.
  const std::vector<Tree> parsed = parse_trees_json(read_text(path), "mem");
  RC_ASSERT(parsed.size() == 1u);
  RC_ASSERT(same_tree(parsed[0], tree));
}

RC_GTEST_PROP(TreeJson, BinaryRoundTripIsBitwiseLossless, ()) {
  const Tree tree = *gen_awkward_tree();
  const std::string path = temp_dir().file("round_trip.dtree");
  save_tree(tree, path);
  RC_ASSERT(read_text(path).substr(0, 8) == "DISATREE");
  RC_ASSERT(same_tree(load_tree(path), tree));
}

RC_GTEST_PROP(TreeJson, TreeSetRoundTripIsBitwiseLossless, ()) {
  const std::vector<Tree> trees = *rc::gen::container<std::vector<Tree>>(
      static_cast<std::size_t>(*rc::gen::inRange(2, 5)), gen_awkward_tree());
  const std::string path = temp_dir().file("set.json");
  save_trees(trees, path);
  const std::vector<Tree> back = load_trees(path);
  RC_ASSERT(back.size() == trees.size());
  for (std::size_t i = 0; i < trees.size(); ++i) RC_ASSERT(same_tree(back[i], trees[i]));
  RC_ASSERT(json::parse(read_text(path))["format"] == "disa-tree-set");
  // load_tree takes exactly one tree.
  RC_ASSERT(contains_all(input_error_message([&] { load_tree(path); }),
                         {path, std::to_string(trees.size()) + " trees"}));
}

TEST(TreeJson, SaveTreesOfOneIsAPlainTreeAndBinarySetsAreRefused) {
  Tree tree = Tree::zeros(TreeShape::make(2, 2));
  tree.reward[1] = 0.5;
  const std::string path = temp_dir().file("one.json");
  save_trees({tree}, path);
  EXPECT_EQ(json::parse(read_text(path))["format"], "disa-tree");
  EXPECT_TRUE(same_tree(load_tree(path), tree));
  EXPECT_TRUE(contains_all(input_error_message([&] { save_trees({tree, tree}, temp_dir().file("two.dtree")); }),
                           {"two.dtree", ".json"}));
}

// Policies, with -inf (zero-mass) entries written as null.
RC_GTEST_PROP(TreeJson, PolicyRoundTripIsBitwiseLossless, ()) {
  const TreeShape shape = *test::gen_shape(2, 5, 5, 500);
  const int V = shape.vocab();
  std::vector<double> logits = *rc::gen::container<std::vector<double>>(
      static_cast<std::size_t>(shape.num_internal() * V),
      rc::gen::oneOf(test::gen_logit(), rc::gen::just(kNegInf)));
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) logits[s * V] = 0.0;  // one finite logit per node
  const TabularPolicy policy = TabularPolicy::from_logits(shape, logits);
  const std::string path = temp_dir().file("policy.json");
  save_policy(policy, path);
  const TabularPolicy back = load_policy(path, shape);
  RC_ASSERT(back.shape == shape);
  RC_ASSERT(same_bits(back.log_prob, policy.log_prob));
}

// ---- bad files ---------------------------------------------------------------

// The base document: V = 3, T = 2, EOS = 2, so B = 2. Nodes in level order:
// /nodes/0 = [], /nodes/1 = [0], /nodes/2 = [1]. Leaves by id: 0 = [2] (EOS at
// the root), 1 = [0,2], 2 = [1,2], 3 = [0,0], 4 = [0,1], 5 = [1,0], 6 = [1,1].
json base_tree_json() {
  Tree tree = Tree::zeros(TreeShape::make(3, 2, 2));
  for (std::size_t i = 0; i < tree.logits.size(); ++i) tree.logits[i] = 0.5 * static_cast<double>(i);
  for (std::size_t y = 0; y < tree.reward.size(); ++y) tree.reward[y] = y % 2;
  tree.strategy[3] = 0;
  const std::string path = temp_dir().file("base.json");
  save_tree(tree, path);
  return json::parse(read_text(path));
}

std::string tree_error(const json& doc) {
  return input_error_message([&] { parse_trees_json(doc.dump(), "bad.json"); });
}

std::string tree_error_text(const std::string& text) {
  return input_error_message([&] { parse_trees_json(text, "bad.json"); });
}

TEST(TreeJson, BaseDocumentIsValid) {
  const json doc = base_tree_json();
  ASSERT_EQ(doc["nodes"].size(), 3u);
  ASSERT_EQ(doc["leaves"].size(), 7u);
  EXPECT_EQ(doc["nodes"][1]["prefix"], json::array({0}));
  EXPECT_EQ(doc["leaves"][6]["path"], json::array({1, 1}));
  EXPECT_NO_THROW(parse_trees_json(doc.dump(), "ok.json"));
}

TEST(TreeJson, BadHeaderFieldsAreNamed) {
  json doc = base_tree_json();
  doc["format"] = "disa-trees";
  EXPECT_TRUE(contains_all(tree_error(doc), {"bad.json", "/format", "disa-tree"}));
  doc = base_tree_json();
  doc["version"] = 2;
  EXPECT_TRUE(contains_all(tree_error(doc), {"bad.json", "/version", "expected 1, got 2"}));
  doc = base_tree_json();
  doc.erase("leaves");
  EXPECT_TRUE(contains_all(tree_error(doc), {"bad.json", "missing", "\"leaves\""}));
  doc = base_tree_json();
  doc["extra"] = 1;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/extra", "unknown key"}));
  doc = base_tree_json();
  doc["vocab"] = 1;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/vocab", "1"}));
  doc = base_tree_json();
  doc["horizon"] = 0;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/horizon", "0"}));
  for (const json& bad_eos : {json(3), json(-1), json("x"), json(1.5)}) {
    doc = base_tree_json();
    doc["eos"] = bad_eos;
    EXPECT_TRUE(contains_all(tree_error(doc), {"/eos"})) << bad_eos.dump();
  }
  EXPECT_TRUE(contains_all(tree_error_text("[1, 2]"), {"bad.json", "expected an object"}));
  EXPECT_TRUE(contains_all(tree_error_text("{\"format\": \"disa-tree\", "), {"bad.json", "not valid JSON"}));
  EXPECT_TRUE(contains_all(tree_error_text(""), {"bad.json", "not valid JSON"}));
}

TEST(TreeJson, BadNodesAreNamedByPath) {
  json doc = base_tree_json();
  doc["nodes"].erase(1);  // the node [0]
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes", "missing", "[0]"}));
  doc = base_tree_json();
  doc["nodes"][2]["prefix"] = json::array({0});
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/2/prefix", "twice"}));
  doc = base_tree_json();
  doc["nodes"][1]["logits"] = json::array({1.0, 2.0});
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/1/logits", "3"}));
  doc = base_tree_json();
  doc["nodes"][1]["logits"][2] = "x";
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/1/logits/2", "number"}));
  doc = base_tree_json();
  doc["nodes"][1]["logits"][2] = nullptr;  // null is for policies only
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/1/logits/2"}));
  // 1e400 is valid JSON but overflows a double: the JSON reader refuses the
  // number itself, so the message names the file and the number, not the path.
  doc = base_tree_json();
  doc["nodes"][1]["logits"][2] = "__BIG__";
  std::string text = doc.dump();
  text.replace(text.find("\"__BIG__\""), 9, "1e400");
  EXPECT_TRUE(contains_all(tree_error_text(text), {"bad.json", "1e400"}));
  doc = base_tree_json();
  doc["nodes"][1]["prefix"] = json::array({2});  // EOS: not an internal node
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/1/prefix", "not an internal node"}));
  doc = base_tree_json();
  doc["nodes"][1]["prefix"] = json::array({5});
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/1/prefix/0"}));
  doc = base_tree_json();
  doc["nodes"][0]["bogus"] = true;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/0/bogus", "unknown key"}));
  doc = base_tree_json();
  doc["nodes"][0].erase("logits");
  EXPECT_TRUE(contains_all(tree_error(doc), {"/nodes/0", "missing", "\"logits\""}));
}

TEST(TreeJson, BadLeavesAreNamedByPath) {
  json doc = base_tree_json();
  doc["leaves"][3]["path"] = json::array({0});  // ends at an internal node
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves/3/path", "not a leaf"}));
  doc = base_tree_json();
  doc["leaves"].erase(6);  // the leaf [1,1]
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves", "missing", "[1,1]"}));
  doc = base_tree_json();
  doc["leaves"][4]["path"] = json::array({0, 0});  // leaf 3 again
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves/4/path", "twice"}));
  doc = base_tree_json();
  doc["leaves"][0]["reward"] = "high";
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves/0/reward", "number"}));
  doc = base_tree_json();
  doc["leaves"][0]["strategy"] = -3;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves/0/strategy"}));
  doc = base_tree_json();
  doc["leaves"][0]["strategy"] = 0.5;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves/0/strategy", "integer"}));
  // Labels index per-strategy arrays: sparse labels are fine, 2^30 (8 GiB per strategy
  // distribution) is not.
  doc = base_tree_json();
  doc["leaves"][0]["strategy"] = 1 << 30;
  EXPECT_TRUE(contains_all(tree_error(doc), {"/leaves/0/strategy", "1073741824 is outside [0, 1048575]"}));
  doc = base_tree_json();
  doc["leaves"][0]["strategy"] = 70000;  // more than the tree's leaves: accepted
  EXPECT_EQ(parse_trees_json(doc.dump(), "ok.json")[0].strategy[0], 70000);
  // A null strategy means unlabelled: accepted.
  doc = base_tree_json();
  doc["leaves"][0]["strategy"] = nullptr;
  EXPECT_EQ(parse_trees_json(doc.dump(), "ok.json")[0].strategy[0], kNoStrategy);
}

TEST(TreeJson, ARepeatedKeyIsRefusedByPath) {
  // JSON parsers keep one of two equal keys (nlohmann the last): which reward a leaf has
  // would depend on the parser, so the loader refuses the file, as it does an unknown key.
  std::string text = base_tree_json().dump();
  text.insert(text.find("\"reward\":", text.find("\"leaves\"")), "\"reward\":5,");
  EXPECT_EQ(tree_error_text(text), "bad.json: /leaves/0/reward: key \"reward\" is given twice in one object");
  json set = {{"format", "disa-tree-set"}, {"version", 1}, {"trees", json::array({base_tree_json(), base_tree_json()})}};
  std::string set_text = set.dump();
  const auto second_tree = set_text.find("\"format\"", set_text.find("\"format\"", set_text.find("\"trees\"")) + 1);
  set_text.insert(second_tree, "\"vocab\":2,");
  EXPECT_TRUE(contains_all(tree_error_text(set_text), {"bad.json: /trees/1/vocab: key \"vocab\" is given twice"}));
}

TEST(TreeJson, BadTreeSetsAreNamedByPath) {
  json set = {{"format", "disa-tree-set"}, {"version", 1}, {"trees", json::array({base_tree_json(), base_tree_json()})}};
  EXPECT_EQ(parse_trees_json(set.dump(), "ok.json").size(), 2u);
  set["trees"][1]["vocab"] = 1;
  EXPECT_TRUE(contains_all(tree_error(set), {"/trees/1/vocab"}));
  set["trees"] = json::array();
  EXPECT_TRUE(contains_all(tree_error(set), {"/trees"}));
  set = {{"format", "disa-tree-set"}, {"version", 3}, {"trees", json::array({base_tree_json()})}};
  EXPECT_TRUE(contains_all(tree_error(set), {"/version"}));
}

TEST(TreeJson, MissingFileIsNamed) {
  EXPECT_TRUE(contains_all(input_error_message([] { load_tree("/nonexistent/tree.json"); }),
                           {"/nonexistent/tree.json", "cannot open"}));
}

// ---- bad binary files ----------------------------------------------------------

// Layout: "DISATREE" (8) | u32 version | i32 vocab, horizon, eos | i64 counts[2] |
// f64 logits[3 * 3] | f64 reward[7] | i32 strategy[7]: 8 + 4 + 12 + 16 = 40 header bytes,
// logits at 40, rewards at 112, strategies at 168, 196 bytes in all.
std::string base_binary() {
  Tree tree = Tree::zeros(TreeShape::make(3, 2, 2));
  for (std::size_t i = 0; i < tree.logits.size(); ++i) tree.logits[i] = 0.25 * static_cast<double>(i);
  const std::string path = temp_dir().file("base.dtree");
  save_tree(tree, path);
  return read_text(path);
}

std::string binary_error(const std::string& bytes) {
  const std::string path = temp_dir().file("bad.dtree");
  write_text(path, bytes);
  return input_error_message([&] { load_tree(path); });
}

TEST(TreeJson, BinaryFileLayoutMatchesTheDocumentation) {
  const std::string bytes = base_binary();
  ASSERT_EQ(bytes.size(), 196u);
  std::uint32_t version = 0;
  std::int32_t header[3];
  std::int64_t counts[2];
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(header, bytes.data() + 12, 12);
  std::memcpy(counts, bytes.data() + 24, 16);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(header[0], 3);
  EXPECT_EQ(header[1], 2);
  EXPECT_EQ(header[2], 2);
  EXPECT_EQ(counts[0], 3);
  EXPECT_EQ(counts[1], 7);
  double logit5 = 0.0;
  std::memcpy(&logit5, bytes.data() + 40 + 5 * 8, 8);
  EXPECT_EQ(logit5, 1.25);
}

TEST(TreeJson, TruncatedBinaryIsRejected) {
  const std::string bytes = base_binary();
  for (std::size_t keep : {10u, 14u, 30u, 45u, 120u, 195u}) {
    EXPECT_TRUE(contains_all(binary_error(bytes.substr(0, keep)), {"bad.dtree", "truncated"})) << keep;
  }
}

// The header's sizes are checked against the file before anything is allocated: a
// 40-byte header claiming a vocabulary of 10 and horizon 6 (111,111 nodes, a million leaves)
// is refused by its length, and bytes after the last leaf are not ignored.
TEST(TreeJson, BinaryLengthMustBeTheHeadersBeforeAllocating) {
  const std::string base = base_binary();
  EXPECT_TRUE(contains_all(binary_error(base + std::string(4, '\0')),
                           {"bad.dtree", "200 bytes", "196 bytes", "trailing bytes"}));
  std::string header = base.substr(0, 40);
  const std::int32_t shape[3] = {10, 6, -1};
  const std::int64_t counts[2] = {111111, 1000000};
  std::memcpy(header.data() + 12, shape, 12);
  std::memcpy(header.data() + 24, counts, 16);
  EXPECT_TRUE(contains_all(binary_error(header), {"bad.dtree", "40 bytes", "20888920 bytes", "truncated"}));
}

TEST(TreeJson, CorruptBinaryFieldsAreRejected) {
  const std::string base = base_binary();
  std::string bytes = base;
  const std::uint32_t v2 = 2;
  std::memcpy(bytes.data() + 8, &v2, 4);
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "version"}));
  bytes = base;
  const std::int32_t vocab1 = 1;
  std::memcpy(bytes.data() + 12, &vocab1, 4);
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "vocab"}));
  bytes = base;
  const std::int64_t wrong_count = 8;
  std::memcpy(bytes.data() + 32, &wrong_count, 8);
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "counts"}));
  bytes = base;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(bytes.data() + 40 + 4 * 8, &nan, 8);  // node 1, action 1
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "node 1", "finite"}));
  bytes = base;
  const double inf = kPosInf;
  std::memcpy(bytes.data() + 112 + 2 * 8, &inf, 8);  // reward of leaf 2
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "leaf 2", "finite"}));
  bytes = base;
  const std::int32_t negative = -5;
  std::memcpy(bytes.data() + 168 + 3 * 4, &negative, 4);  // strategy of leaf 3
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "leaf 3", "-5 is outside [-1, "}));
  bytes = base;
  const std::int32_t huge = 1 << 30;  // would size every per-strategy array at 2^30
  std::memcpy(bytes.data() + 168 + 3 * 4, &huge, 4);
  EXPECT_TRUE(contains_all(binary_error(bytes), {"bad.dtree", "leaf 3", "1073741824 is outside [-1, 1048575]"}));
}

// ---- bad policy files ----------------------------------------------------------

std::string policy_error(const json& doc, const TreeShape& shape) {
  return input_error_message([&] { parse_policy_json(doc.dump(), "bad_policy.json", shape); });
}

TEST(TreeJson, BadPolicyFilesAreRejected) {
  const TreeShape shape = TreeShape::make(3, 2, 2);  // nodes [], [0], [1]
  const TabularPolicy policy = TabularPolicy::from_logits(shape, std::vector<double>(9, 0.0));
  const std::string path = temp_dir().file("base_policy.json");
  save_policy(policy, path);
  const json base = json::parse(read_text(path));
  ASSERT_EQ(base["format"], "disa-policy");

  json doc = base;
  doc["nodes"][1]["logits"] = json::array({nullptr, nullptr, nullptr});  // no mass at all
  EXPECT_TRUE(contains_all(policy_error(doc, shape), {"bad_policy.json", "node 1", "[0]", "all -inf"}));
  doc = base;
  doc["nodes"][1]["logits"] = json::array({nullptr, 0.0, nullptr});  // some zero mass is fine
  const TabularPolicy partial = parse_policy_json(doc.dump(), "ok.json", shape);
  EXPECT_EQ(partial.node(1)[0], kNegInf);
  EXPECT_EQ(partial.node(1)[1], 0.0);
  doc = base;
  doc["format"] = "disa-tree";
  EXPECT_TRUE(contains_all(policy_error(doc, shape), {"/format", "disa-policy"}));
  doc = base;
  doc["version"] = 2;
  EXPECT_TRUE(contains_all(policy_error(doc, shape), {"/version"}));
  doc = base;
  doc["nodes"].erase(2);
  EXPECT_TRUE(contains_all(policy_error(doc, shape), {"/nodes", "missing", "[1]"}));
  doc = base;
  doc["nodes"][0]["logits"][1] = "x";
  EXPECT_TRUE(contains_all(policy_error(doc, shape), {"/nodes/0/logits/1"}));
  doc = base;
  doc["leaves"] = json::array();
  EXPECT_TRUE(contains_all(policy_error(doc, shape), {"/leaves", "unknown key"}));
  // A policy for another shape: node [2] of a V=3 no-EOS tree is not a node here.
  const TreeShape other = TreeShape::make(3, 2);
  const std::string other_path = temp_dir().file("other_policy.json");
  save_policy(TabularPolicy::from_logits(other, std::vector<double>(12, 0.0)), other_path);
  EXPECT_TRUE(contains_all(input_error_message([&] { load_policy(other_path, shape); }),
                           {other_path, "/nodes/3/prefix", "not an internal node"}));
}

}  // namespace
}  // namespace disa
