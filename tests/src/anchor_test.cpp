// Tests src/anchor.h: the anchor JSONL file (one frozen log Zhat record per prompt).
//
// Against: bit-for-bit round trips through save_anchors/load_anchors (non-finite
// numbers as "-inf"/"inf"/"nan" strings, -0.0, extreme and subnormal doubles,
// seeds up to 2^64 - 1, escaped prompt text, flags); make_anchor copying an
// IsEstimate; bad files rejected with an InputError naming the source, line and
// field; the atomic save leaving no temporary behind.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/anchor.h"
#include "src/is_estimator.h"
#include "tests/util/errors.h"

namespace disa {
namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool same_bits(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;  // the payload is not part of the format
  return std::memcmp(&a, &b, sizeof a) == 0;
}

::testing::AssertionResult same_record(const AnchorRecord& a, const AnchorRecord& b) {
  const std::pair<const char*, std::pair<double, double>> nums[] = {
      {"log_z_hat", {a.log_z_hat, b.log_z_hat}}, {"ess", {a.ess, b.ess}},
      {"chi2_hat", {a.chi2_hat, b.chi2_hat}},    {"k_hat", {a.k_hat, b.k_hat}},
      {"ci_low", {a.ci_low, b.ci_low}},          {"ci_high", {a.ci_high, b.ci_high}},
      {"log_z_psis", {a.log_z_psis, b.log_z_psis}}, {"max_weight", {a.max_weight, b.max_weight}},
      {"beta", {a.beta, b.beta}}};
  for (const auto& [name, v] : nums) {
    if (!same_bits(v.first, v.second)) {
      return ::testing::AssertionFailure() << name << ": " << v.first << " vs " << v.second;
    }
  }
  if (a.prompt != b.prompt) return ::testing::AssertionFailure() << "prompt";
  if (a.n != b.n) return ::testing::AssertionFailure() << "n";
  if (a.ci_method != b.ci_method) return ::testing::AssertionFailure() << "ci_method";
  if (a.proposal != b.proposal) return ::testing::AssertionFailure() << "proposal";
  if (a.seed != b.seed) return ::testing::AssertionFailure() << "seed " << a.seed << " vs " << b.seed;
  if (a.flags != b.flags) return ::testing::AssertionFailure() << "flags";
  return ::testing::AssertionSuccess();
}

// A fresh directory per test, removed afterwards.
class AnchorFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("disa_anchor_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    return out;
  }
  fs::path dir_;
};

std::vector<AnchorRecord> tricky_records() {
  std::vector<AnchorRecord> v;
  {
    // An ordinary estimate, through make_anchor.
    const std::vector<double> log_w{0.1, -0.3, 1.7, 0.25, -2.0, 0.9, 0.0, 0.3, 1.1, -1.0,
                                    0.5, 0.6, 0.7, 0.8, 0.05, -0.05, 2.1, 1.3, 0.45, 0.35,
                                    -0.7, 0.15, 0.95, 1.05, 0.55, 0.65, 0.75, 0.85, -0.15, -0.25};
    v.push_back(make_anchor("p0", estimate_log_partition(log_w), "tilted:lambda=0.5", 2.0, 1));
  }
  {
    // All weights zero: log Zhat = -inf, k_hat and ESS NaN, a flag.
    const std::vector<double> log_w(3, -kInf);
    v.push_back(make_anchor("prompt \"quoted\"\n\tnew line, ünïcødé, \\ backslash", estimate_log_partition(log_w),
                            "reference", 0.5, std::numeric_limits<std::uint64_t>::max()));
  }
  {
    AnchorRecord a;  // hand-made extremes
    a.prompt = "";
    a.log_z_hat = -1e300;
    a.n = std::numeric_limits<std::int64_t>::max();
    a.ess = 4.9406564584124654e-324;  // smallest subnormal
    a.chi2_hat = std::numeric_limits<double>::max();
    a.k_hat = kNaN;
    a.ci_low = -kInf;
    a.ci_high = kInf;
    a.ci_method = "bootstrap";
    a.log_z_psis = -0.0;
    a.max_weight = 0.1;  // not a dyadic fraction: needs 17 significant digits
    a.proposal = "file:/tmp/x y.json";
    a.beta = 1.0 / 3.0;
    a.seed = 0;
    a.flags = {"k_hat_above_0.7", "ess_below_10", "single_sample"};
    v.push_back(a);
  }
  return v;
}

TEST(Anchor, MakeAnchorCopiesTheEstimate) {
  const std::vector<double> log_w{0.0, std::log(3.0)};
  const IsEstimate e = estimate_log_partition(log_w);
  const AnchorRecord a = make_anchor("x", e, "tilted:lambda=0.5", 2.5, 7);
  EXPECT_EQ(a.prompt, "x");
  EXPECT_EQ(a.log_z_hat, e.log_z_hat);
  EXPECT_EQ(a.n, 2);
  EXPECT_EQ(a.ess, e.ess);
  EXPECT_EQ(a.chi2_hat, e.chi2_hat);
  EXPECT_TRUE(same_bits(a.k_hat, e.k_hat));
  EXPECT_EQ(a.ci_low, e.ci_low);
  EXPECT_EQ(a.ci_high, e.ci_high);
  EXPECT_EQ(a.ci_method, "delta");
  EXPECT_TRUE(same_bits(a.log_z_psis, e.log_z_psis));
  EXPECT_EQ(a.max_weight, e.max_weight);
  EXPECT_EQ(a.proposal, "tilted:lambda=0.5");
  EXPECT_EQ(a.beta, 2.5);
  EXPECT_EQ(a.seed, 7u);
  EXPECT_EQ(a.flags, e.flags);
}

TEST_F(AnchorFile, RoundTripIsLossless) {
  const std::vector<AnchorRecord> records = tricky_records();
  ASSERT_EQ(records[1].log_z_hat, -kInf);
  ASSERT_TRUE(std::isnan(records[1].k_hat));
  const std::string p = path("anchors.jsonl");
  save_anchors(records, p);
  const std::vector<AnchorRecord> back = load_anchors(p);
  ASSERT_EQ(back.size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i) EXPECT_TRUE(same_record(records[i], back[i])) << "record " << i;
  EXPECT_TRUE(std::signbit(back[2].log_z_psis));  // -0.0 stays -0.0
  // One line per record; saving what was loaded gives the same bytes.
  std::ifstream in(p);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 3);
  const std::string p2 = path("again.jsonl");
  save_anchors(back, p2);
  std::ifstream a(p), b(p2);
  std::stringstream sa, sb;
  sa << a.rdbuf();
  sb << b.rdbuf();
  EXPECT_EQ(sa.str(), sb.str());
  // The documented spelling of non-finite numbers and the key names.
  EXPECT_NE(sa.str().find("\"log_Zhat\":\"-inf\""), std::string::npos) << sa.str();
  EXPECT_NE(sa.str().find("\"k_hat\":\"nan\""), std::string::npos);
  EXPECT_NE(sa.str().find("\"log_Zhat_psis\""), std::string::npos);
  EXPECT_NE(sa.str().find("\"flags\":[\"all_weights_zero\""), std::string::npos);
}

TEST_F(AnchorFile, EmptyListRoundTrips) {
  const std::string p = path("empty.jsonl");
  save_anchors({}, p);
  EXPECT_TRUE(load_anchors(p).empty());
}

TEST_F(AnchorFile, SaveIsAtomicAndLeavesNoTemporary) {
  const std::string p = path("anchors.jsonl");
  save_anchors(tricky_records(), p);
  EXPECT_EQ(entries(), std::vector<std::string>{"anchors.jsonl"});
  // Overwriting replaces the content whole.
  std::vector<AnchorRecord> one{tricky_records()[0]};
  save_anchors(one, p);
  EXPECT_EQ(entries(), std::vector<std::string>{"anchors.jsonl"});
  ASSERT_EQ(load_anchors(p).size(), 1u);
  // A save that fails at the rename (the target is a non-empty directory) throws
  // and leaves no temporary behind.
  fs::create_directories(dir_ / "taken" / "inner");
  EXPECT_THROW(save_anchors(one, path("taken")), std::exception);
  std::vector<std::string> after = entries();
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, (std::vector<std::string>{"anchors.jsonl", "taken"}));
}

TEST_F(AnchorFile, MissingFileNamesThePath) {
  const std::string p = path("absent.jsonl");
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { load_anchors(p); }), {p}));
}

// ---- bad files -----------------------------------------------------------------

std::string good_line(const std::string& prompt) {
  return "{\"prompt\":\"" + prompt +
         "\",\"log_Zhat\":1.23,\"n\":256,\"ess\":101.5,\"chi2_hat\":1.52,\"k_hat\":0.31,"
         "\"ci_low\":1.1,\"ci_high\":1.4,\"ci_method\":\"delta\",\"log_Zhat_psis\":1.22,\"max_weight\":0.04,"
         "\"proposal\":\"tilted:lambda=0.5\",\"beta\":2,\"seed\":1,\"flags\":[]}";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

std::string error_for(const std::string& second_line) {
  return test::input_error_message(
      [&] { parse_anchors(good_line("p0") + "\n" + second_line + "\n" + good_line("p2") + "\n", "a.jsonl"); });
}

TEST(AnchorParse, TheDocumentedExampleParses) {
  const std::vector<AnchorRecord> v = parse_anchors(good_line("p0") + "\n" + good_line("p1") + "\n", "a.jsonl");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].prompt, "p1");
  EXPECT_EQ(v[0].log_z_hat, 1.23);
  EXPECT_EQ(v[0].n, 256);
  EXPECT_EQ(v[0].beta, 2.0);
  EXPECT_EQ(v[0].seed, 1u);
  EXPECT_TRUE(v[0].flags.empty());
}

TEST(AnchorParse, MissingLogZhat) {
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"log_Zhat\":1.23,", "")),
                                 {"a.jsonl:2", "log_Zhat"}));
}

TEST(AnchorParse, NegativeN) {
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"n\":256", "\"n\":-5")),
                                 {"a.jsonl:2", "n:", "-5"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"n\":256", "\"n\":2.5")),
                                 {"a.jsonl:2", "n:"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"n\":256", "\"n\":0")),
                                 {"a.jsonl:2", "n:"}));
}

TEST(AnchorParse, BetaAsAString) {
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"beta\":2", "\"beta\":\"two\"")),
                                 {"a.jsonl:2", "beta", "two"}));
}

TEST(AnchorParse, ASecondAnchorForAPromptIsRefused) {
  // Which of two log Zhat a trainer would freeze is not the file's to leave open.
  EXPECT_TRUE(test::contains_all(error_for(good_line("p0")), {"a.jsonl:2", "prompt 'p0' already has an anchor (line 1)"}));
}

TEST(AnchorParse, ARepeatedKeyIsRefused) {
  // A second "log_Zhat" on one line used to replace the first silently.
  EXPECT_EQ(error_for(replace(good_line("p1"), "\"log_Zhat\":1.23", "\"log_Zhat\":1.23,\"log_Zhat\":9")),
            "a.jsonl:2: /log_Zhat: key \"log_Zhat\" is given twice in one object");
}

TEST(AnchorParse, InvalidJsonOnLine2) {
  EXPECT_TRUE(test::contains_all(error_for("{\"prompt\":\"p1\",\"log_Zhat\":"), {"a.jsonl:2", "JSON"}));
  EXPECT_TRUE(test::contains_all(error_for("[1, 2]"), {"a.jsonl:2"}));
}

TEST(AnchorParse, OtherBadFields) {
  // log Zhat may be -inf (all weights zero) but never NaN or +inf.
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"log_Zhat\":1.23", "\"log_Zhat\":\"nan\"")),
                                 {"a.jsonl:2", "log_Zhat"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"log_Zhat\":1.23", "\"log_Zhat\":\"inf\"")),
                                 {"a.jsonl:2", "log_Zhat"}));
  EXPECT_EQ(parse_anchors(replace(good_line("p1"), "\"log_Zhat\":1.23", "\"log_Zhat\":\"-inf\""), "a")[0].log_z_hat,
            -kInf);
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"seed\":1", "\"seed\":-1")),
                                 {"a.jsonl:2", "seed"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"flags\":[]", "\"flags\":\"none\"")),
                                 {"a.jsonl:2", "flags"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"flags\":[]", "\"flags\":[1]")),
                                 {"a.jsonl:2", "flags"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"prompt\":\"p1\"", "\"prompt\":7")),
                                 {"a.jsonl:2", "prompt"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"ess\":101.5", "\"ess\":null")),
                                 {"a.jsonl:2", "ess"}));
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"k_hat\":0.31,", "")),
                                 {"a.jsonl:2", "k_hat"}));
}

TEST(AnchorParse, WhatNoWriterProducesIsRefused) {
  // beta is checked finite and > 0 where anchors are made; "nan" or a negative one was read.
  for (const char* beta : {"\"nan\"", "\"inf\"", "-2", "0"}) {
    EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"beta\":2", std::string("\"beta\":") + beta)),
                                   {"a.jsonl:2: beta: must be a finite number > 0"}))
        << beta;
  }
  EXPECT_EQ(error_for(replace(good_line("p1"), "\"ci_low\":1.1", "\"ci_low\":1.5")),
            "a.jsonl:2: ci_low 1.5 is above ci_high 1.4");
  // A CI without ends (NaN) is no reversed one.
  EXPECT_NO_THROW(parse_anchors(replace(good_line("p1"), "\"ci_low\":1.1", "\"ci_low\":\"nan\""), "a"));
  // A misspelt key was ignored.
  EXPECT_TRUE(test::contains_all(error_for(replace(good_line("p1"), "\"flags\":[]", "\"flags\":[],\"log_zhat\":9")),
                                 {"a.jsonl:2: unknown key \"log_zhat\" (an anchor record has: prompt, log_Zhat, n,"}));
}

TEST(AnchorParse, AHugeBadValueIsShownCut) {
  // A 3-million-element array in a field was repeated whole: a 6 MB message.
  std::string huge = "[1";
  for (int i = 0; i < 3000000; ++i) huge += ",1";
  huge += "]";
  for (const char* key : {"\"n\":256", "\"seed\":1", "\"ess\":101.5", "\"proposal\":\"tilted:lambda=0.5\"",
                          "\"flags\":[]"}) {
    const std::string name = std::string(key).substr(0, std::string(key).find(':'));
    const std::string value = std::string(key).starts_with("\"flags\"") ? "[" + huge + "]" : huge;
    const std::string message = error_for(replace(good_line("p1"), key, name + ":" + value));
    EXPECT_LT(message.size(), 300u) << key;
    EXPECT_TRUE(test::contains_all(message, {"a.jsonl:2", "[1,1,1,", "... (6000003 bytes)"})) << message;
  }
}

}  // namespace
}  // namespace disa
