// Tests toy_envs/proposals.h: the tilted, interpolated and mixture proposal
// families (THEORY.md items 5-6), item 5's closed form for chi2(p* || q_lambda),
// and the policy SPEC syntax.
//
// Against: brute-force enumeration (tests/util/brute_force.h): q_lambda(y) as
// pi_ref(y) e^{lambda beta r(y)} / Z(lambda beta); per-node p*(a|s) from subtree
// sums of p*(y), from which the interpolated rows are rebuilt independently; the
// mixture's q(y) = (1 - eps) p*(y) + eps pi_ref(y) computed directly; and, for
// beta r up to 1400, analytic partition functions derived in the comments.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include "src/input_error.h"
#include "tests/util/brute_force.h"
#include "tests/util/errors.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/divergences.h"
#include "toy_envs/flows.h"
#include "toy_envs/proposals.h"
#include "toy_envs/tree_json.h"

namespace disa {
namespace {

using test::kRoundOff;

rc::Gen<double> gen_unit(int steps) {
  return rc::gen::map(rc::gen::inRange(0, steps + 1), [steps](int k) { return static_cast<double>(k) / steps; });
}

// chi2 by recursion equals chi2 by enumeration (relative round-off in G = 1 + chi2).
bool chi_square_matches(const TabularPolicy& p, const std::vector<double>& p_leaf,
                        const std::vector<double>& q_leaf, const TabularPolicy& q) {
  const double expected = test::chi_square(p_leaf, q_leaf);
  return std::fabs(chi_square_divergence(p, q).value - expected) <= kRoundOff * (1.0 + expected);
}

// Item 5: q_lambda ∝ pi_ref e^{lambda beta r}; chi2(p* || q_lambda) by recursion,
// by enumeration and by the closed form Z(l b) Z((2 - l) b) / Z(b)^2 - 1 agree.
// The closed form combines four log Z, each with relative error kRoundOff.
RC_GTEST_PROP(Proposals, TiltedChiSquareRecursionEnumerationAndClosedFormAgree, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const double lambda = 2.0 * *gen_unit(100);  // [0, 2]
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  const TabularPolicy q = tilted_proposal(tree, ref, beta, lambda);
  const std::vector<double> pi_ref = test::enumerate(ref).prob;
  const std::vector<double> p_star = test::tilt(pi_ref, tree.reward, beta);
  const std::vector<double> q_leaf = test::tilt(pi_ref, tree.reward, lambda * beta);
  const std::vector<double> q_enum = test::enumerate(q).prob;
  for (std::size_t y = 0; y < q_leaf.size(); ++y) RC_ASSERT(std::fabs(q_enum[y] - q_leaf[y]) <= kRoundOff * q_leaf[y]);
  RC_ASSERT(chi_square_matches(target, p_star, q_leaf, q));
  const double expected = test::chi_square(p_star, q_leaf);
  const ChiSquare closed = tilted_chi_square_closed_form(tree, beta, lambda);
  RC_ASSERT(std::fabs(closed.value - expected) <= 4.0 * kRoundOff * (1.0 + expected));
  RC_ASSERT(std::fabs(closed.log1p_value - std::log1p(expected)) <= 4.0 * kRoundOff);
}

// lambda = 1 is p* itself (zero variance), lambda = 0 is pi_ref.
RC_GTEST_PROP(Proposals, TiltedEndpoints, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  RC_ASSERT(std::fabs(chi_square_divergence(target, tilted_proposal(tree, ref, beta, 1.0)).value) <= kRoundOff);
  RC_ASSERT(std::fabs(tilted_chi_square_closed_form(tree, beta, 1.0).value) <= 4.0 * kRoundOff);
  const TabularPolicy q0 = tilted_proposal(tree, ref, beta, 0.0);
  for (std::size_t i = 0; i < ref.log_prob.size(); ++i) RC_ASSERT(std::fabs(q0.log_prob[i] - ref.log_prob[i]) <= kRoundOff);
}

// Item 6: q(a|s) ∝ pi_ref(a|s)^(1-lambda) p*(a|s)^lambda per node. The rows are
// rebuilt here from p*(a|s) = P*(s.a) / P*(s), with P* subtree sums of p*(y);
// then chi2(p* || q) by recursion equals enumeration.
RC_GTEST_PROP(Proposals, InterpolatedRowsAndChiSquareMatchEnumeration, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const double lambda = *gen_unit(100);
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  const TabularPolicy q = interpolated_proposal(ref, target, lambda);
  const TreeShape& shape = tree.shape;
  const int V = shape.vocab();
  const test::Enumeration e = test::enumerate_reference(tree);
  const std::vector<double> p_star = test::tilt(e.prob, tree.reward, beta);
  const std::vector<double> mass = test::subtree_sums(shape, p_star);
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
    const std::vector<double> r = test::softmax_row(tree.node_logits(s));
    std::vector<double> row(V);
    double total = 0.0;
    for (int a = 0; a < V; ++a) {
      const TreeShape::Child c = shape.child(s, shape.depth_of(s), a);
      const double p_sa = (c.is_leaf ? p_star[c.id] : mass[c.id]) / mass[s];
      row[a] = std::pow(r[a], 1.0 - lambda) * std::pow(p_sa, lambda);
      total += row[a];
    }
    for (int a = 0; a < V; ++a) RC_ASSERT(std::fabs(std::exp(q.node(s)[a]) - row[a] / total) <= kRoundOff);
  }
  RC_ASSERT(chi_square_matches(target, p_star, test::enumerate(q).prob, q));
}

// Item 6's defensive mixture, sequence level: q(y) = (1 - eps) p*(y) + eps pi_ref(y),
// computed here directly. Also p*/q <= 1/(1 - eps), so chi2 <= eps / (1 - eps).
RC_GTEST_PROP(Proposals, MixtureIsTheSequenceLevelMixture, ()) {
  const Tree tree = *test::gen_tree();
  const double beta = *test::gen_beta();
  const double eps = *gen_unit(100);
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  const TabularPolicy q = mixture_proposal(ref, target, eps);
  const std::vector<double> pi_ref = test::enumerate(ref).prob;
  const std::vector<double> p_star = test::tilt(pi_ref, tree.reward, beta);
  std::vector<double> q_leaf(pi_ref.size());
  for (std::size_t y = 0; y < q_leaf.size(); ++y) q_leaf[y] = (1.0 - eps) * p_star[y] + eps * pi_ref[y];
  const std::vector<double> q_enum = test::enumerate(q).prob;
  for (std::size_t y = 0; y < q_leaf.size(); ++y) RC_ASSERT(std::fabs(q_enum[y] - q_leaf[y]) <= kRoundOff * q_leaf[y]);
  RC_ASSERT(chi_square_matches(target, p_star, q_leaf, q));
  if (eps < 1.0) RC_ASSERT(chi_square_divergence(target, q).value <= eps / (1.0 - eps) + kRoundOff);
}

// ---- beta r up to 1400: the tilted family stays finite in log space ----------

// log(e^x - 1) without overflow for large x.
double log_expm1(double x) { return x > 30.0 ? x + std::log1p(-std::exp(-x)) : std::log(std::expm1(x)); }

// Tolerance on log(1 + chi2) when the log Z involved reach 2 beta: relative
// kRoundOff of the largest magnitude.
double large_tolerance(double beta) { return kRoundOff * (1.0 + 2.0 * beta); }

void check_large_tilted(const Tree& tree, double beta, double lambda, double (*log_z)(double)) {
  const double log_g = log_z(lambda * beta) + log_z((2.0 - lambda) * beta) - 2.0 * log_z(beta);
  const TabularPolicy ref = reference_policy(tree);
  const ChiSquare rec =
      chi_square_divergence(target_policy(tree, ref, beta), tilted_proposal(tree, ref, beta, lambda));
  const ChiSquare closed = tilted_chi_square_closed_form(tree, beta, lambda);
  EXPECT_TRUE(std::isfinite(rec.value) && std::isfinite(rec.log1p_value)) << "lambda " << lambda;
  EXPECT_TRUE(std::isfinite(closed.value) && std::isfinite(closed.log1p_value)) << "lambda " << lambda;
  EXPECT_NEAR(rec.log1p_value, log_g, large_tolerance(beta)) << "lambda " << lambda;
  EXPECT_NEAR(closed.log1p_value, log_g, large_tolerance(beta)) << "lambda " << lambda;
}

// 2048 uniform leaves (V = 2, T = 11, logits 0), one correct: a = 2^-11 and
//   log Z(b) = log(1 + (e^b - 1) a) = b + log(a + (1 - a) e^-b).
// At lambda = 0, chi2 = Z(1400)/Z(700)^2 - 1 ~ 1/a - 1 = 2047.
TEST(Proposals, TiltedChiSquareAtBeta700OneCorrectLeaf) {
  Tree tree = Tree::zeros(TreeShape::make(2, 11));
  tree.reward[777] = 1.0;
  static constexpr double a = 1.0 / 2048.0;
  const auto log_z = [](double b) { return b == 0.0 ? 0.0 : b + std::log(a + (1.0 - a) * std::exp(-b)); };
  for (double lambda : {0.0, 0.25, 0.5, 1.0, 1.5, 2.0}) check_large_tilted(tree, 700.0, lambda, log_z);
  const TabularPolicy ref = reference_policy(tree);
  EXPECT_NEAR(chi_square_divergence(target_policy(tree, ref, 700.0), ref).value, 2047.0,
              2048.0 * large_tolerance(700.0));
}

// Graded rewards r(y) = y / 2047 on the same uniform leaves: with c = b / 2047,
//   Z(b) = 2^-11 sum_{y<2048} e^{c y} = 2^-11 (e^{2048 c} - 1) / (e^c - 1).
TEST(Proposals, TiltedChiSquareAtBeta700GradedRewards) {
  Tree tree = Tree::zeros(TreeShape::make(2, 11));
  for (std::int64_t y = 0; y < 2048; ++y) tree.reward[y] = static_cast<double>(y) / 2047.0;
  const auto log_z = [](double b) {
    if (b == 0.0) return 0.0;
    const double c = b / 2047.0;
    return -11.0 * std::log(2.0) + log_expm1(2048.0 * c) - log_expm1(c);
  };
  for (double lambda : {0.0, 0.5, 1.0, 1.5}) check_large_tilted(tree, 700.0, lambda, log_z);
}

// Random binary trees at beta = 700: log Z(b) = b + log(acc + (1 - acc) e^-b).
RC_GTEST_PROP(Proposals, TiltedChiSquareAtBeta700RandomBinaryTrees, ()) {
  const Tree tree = *test::gen_tree(test::RewardKind::kBinary);
  const double acc = test::accuracy(test::enumerate_reference(tree).prob, tree.reward);
  RC_PRE(acc > 0.0);
  const double lambda = 2.0 * *gen_unit(8);
  const double beta = 700.0;
  const auto log_z = [acc](double b) { return b == 0.0 ? 0.0 : b + std::log(acc + (1.0 - acc) * std::exp(-b)); };
  const double log_g = log_z(lambda * beta) + log_z((2.0 - lambda) * beta) - 2.0 * log_z(beta);
  const TabularPolicy ref = reference_policy(tree);
  const ChiSquare rec =
      chi_square_divergence(target_policy(tree, ref, beta), tilted_proposal(tree, ref, beta, lambda));
  const ChiSquare closed = tilted_chi_square_closed_form(tree, beta, lambda);
  RC_ASSERT(std::isfinite(rec.log1p_value));
  RC_ASSERT(std::fabs(rec.log1p_value - log_g) <= large_tolerance(beta));
  RC_ASSERT(std::fabs(closed.log1p_value - log_g) <= large_tolerance(beta));
}

// ---- SPEC syntax -------------------------------------------------------------

TEST(Proposals, ParsePolicySpecAcceptsTheDocumentedForms) {
  EXPECT_EQ(parse_policy_spec("reference", "--proposal").kind, PolicySpec::Kind::kReference);
  EXPECT_EQ(parse_policy_spec("target", "--proposal").kind, PolicySpec::Kind::kTarget);
  const PolicySpec t = parse_policy_spec("tilted:lambda=1.5", "--proposal");
  EXPECT_EQ(t.kind, PolicySpec::Kind::kTilted);
  EXPECT_EQ(t.parameter, 1.5);
  EXPECT_EQ(t.text, "tilted:lambda=1.5");
  const PolicySpec i = parse_policy_spec("interp:lambda=0.25", "--proposal");
  EXPECT_EQ(i.kind, PolicySpec::Kind::kInterp);
  EXPECT_EQ(i.parameter, 0.25);
  const PolicySpec m = parse_policy_spec("mixture:eps=0.1", "--proposal");
  EXPECT_EQ(m.kind, PolicySpec::Kind::kMixture);
  EXPECT_EQ(m.parameter, 0.1);
  const PolicySpec f = parse_policy_spec("file:some/dir/p.json", "--proposal");
  EXPECT_EQ(f.kind, PolicySpec::Kind::kFile);
  EXPECT_EQ(f.path, "some/dir/p.json");
}

TEST(Proposals, ParsePolicySpecRejectsBadTextNamingFieldAndText) {
  for (const char* bad : {"foo", "tilted", "tilted:", "tilted:lambda=", "tilted:lambda=abc",
                          "tilted:eps=0.5", "tilted:lambda=2.5", "tilted:lambda=-0.1", "interp:lambda=1.5",
                          "mixture:eps=-0.1", "mixture:eps=1.01", "mixture:eps=nan", "file:", "bogus:x=1"}) {
    EXPECT_TRUE(test::contains_all(test::input_error_message([&] { parse_policy_spec(bad, "--proposal"); }),
                                   {"--proposal", bad}));
  }
}

// make_policy dispatches each kind to its constructor.
TEST(Proposals, MakePolicyBuildsWhatTheSpecNames) {
  Tree tree = Tree::zeros(TreeShape::make(3, 3, 2));
  for (std::size_t i = 0; i < tree.logits.size(); ++i) tree.logits[i] = std::sin(static_cast<double>(i));
  for (std::size_t y = 0; y < tree.reward.size(); ++y) tree.reward[y] = (y % 3 == 0) ? 1.0 : 0.0;
  const double beta = 2.5;
  const TabularPolicy ref = reference_policy(tree);
  const TabularPolicy target = target_policy(tree, ref, beta);
  const auto make = [&](const char* spec) { return make_policy(tree, beta, parse_policy_spec(spec, "--proposal")).log_prob; };
  EXPECT_EQ(make("reference"), ref.log_prob);
  EXPECT_EQ(make("target"), target.log_prob);
  EXPECT_EQ(make("tilted:lambda=0.3"), tilted_proposal(tree, ref, beta, 0.3).log_prob);
  EXPECT_EQ(make("interp:lambda=0.3"), interpolated_proposal(ref, target, 0.3).log_prob);
  EXPECT_EQ(make("mixture:eps=0.3"), mixture_proposal(ref, target, 0.3).log_prob);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("disa_proposals_test_" + std::to_string(::getpid()) + ".json")).string();
  save_policy(target, path);
  EXPECT_EQ(make(("file:" + path).c_str()), target.log_prob);
  std::filesystem::remove(path);
  EXPECT_TRUE(test::contains_all(
      test::input_error_message([&] { make("file:/nonexistent/dir/p.json"); }), {"/nonexistent/dir/p.json"}));
}

}  // namespace
}  // namespace disa
