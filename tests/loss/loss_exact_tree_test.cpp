// Tests the tb/disa head (src/loss/trajectory_balance.h) against THEORY.md items 8-10
// on exactly enumerated trees. Every leaf is one batch row holding the per-token
// log-probs of its path under pi_theta, pi_ref and the sampling policy (right-padded,
// so EOS trees mix lengths in one batch). Expectations are sums over leaves weighted by
// exact leaf probabilities, never samples: the gradient of the one-row batch {y} is B
// times row y's gradient in the all-leaves batch (checked for a drawn leaf each time).
// The head's grad_logp reaches the tabular policy's logits theta[s, a] through
//   d log pi(a_t | s_t) / d theta[s_t, a] = 1[a = a_t] - pi(a | s_t).
//
// Against: leaves, paths and pi(y) by brute-force enumeration (tests/util/brute_force.h);
// log Z and p* from toy_envs/flows.h; grad KL(pi || p*) twice over: Richardson-
// extrapolated central differences of toy_envs' kl_divergence (independent of any
// derivation here), and a backward recursion (tight enough for a round-off comparison).
//
// Trees come from RapidCheck (tests/util/tree_gen.h) rather than a fixed seeded set:
// breadth (V = 2 chains, T = 1, EOS at any action, binary and graded rewards, beta in
// (0, 10]) and shrinking to a small counterexample; ctest pins the seed. At most 256
// leaves keeps enumeration and differencing within a few seconds.
//
// Tolerances, in double:
//  kExact = 1e-10 relative to 1 + the size of the compared quantity. A residual sums at
//    most T + 2 = 7 terms of size <= ~60, an expectation at most 256 leaves x 5 tokens
//    with weights summing to 1: round-off stays below ~1e-13.
//  kFiniteDifference = 1e-9 for the differenced KL gradient: round-off ~ eps x (KL's
//    terms, <= ~100) / h ~ 1e-11 at h = 1e-3, truncation h^4 |f^(5)| / 480 ~ 1e-13.
// The largest error seen per identity is printed when the suite ends.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "src/loss/loss_batch.h"
#include "src/loss/objective.h"
#include "src/loss/trajectory_balance.h"
#include "tests/util/brute_force.h"
#include "tests/util/tree_gen.h"
#include "toy_envs/divergences.h"
#include "toy_envs/flows.h"
#include "toy_envs/proposals.h"
#include "toy_envs/tree.h"

namespace disa {
namespace {

constexpr std::int64_t kMaxExactLeaves = 256;
constexpr double kExact = 1e-10;
constexpr double kFiniteDifference = 1e-9;
constexpr double kStep = 1e-3;

// ---- the ledger: largest error per identity, and on how many cases and leaves ----

struct Record {
  double max_error = 0;
  double tolerance = 0;
  long cases = 0;
  long leaves = 0;
  std::size_t largest = 0;  // leaves of the largest tree
};

std::map<std::string, Record>& ledger() {
  static std::map<std::string, Record> records;
  return records;
}

// Records one case's error for `identity` (NaN counts as the largest) and whether it passes.
bool within(const std::string& identity, double error, double tolerance, std::size_t leaves) {
  Record& r = ledger()[identity];
  if (!(error <= r.max_error)) r.max_error = error;
  r.tolerance = tolerance;
  ++r.cases;
  r.leaves += static_cast<long>(leaves);
  r.largest = std::max(r.largest, leaves);
  if (!(error <= tolerance)) RC_LOG() << identity << ": error " << error << " > tolerance " << tolerance << "\n";
  return error <= tolerance;
}

class LedgerPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const auto& [identity, r] : ledger()) {
      std::printf("[ exact    ] %-64s max error %8.2e (tol %.0e), %ld cases, %ld leaves (largest tree %zu)\n",
                  identity.c_str(), r.max_error, r.tolerance, r.cases, r.leaves, r.largest);
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kLedgerPrinter =
    ::testing::AddGlobalTestEnvironment(new LedgerPrinter);

// ---- comparing vectors ----

double max_abs(std::span<const double> v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// max_k |got_k - want_k|, NaN counting as the largest.
double max_difference(std::span<const double> got, std::span<const double> want) {
  double d = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]);
    if (!(e <= d)) d = e;
  }
  return d;
}

// Relative to the vector's size, absolute near zero (where a predicted-zero vector is compared).
double scaled_distance(std::span<const double> got, std::span<const double> want) {
  return max_difference(got, want) / (1.0 + max_abs(want));
}

std::vector<double> scaled(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}

std::vector<double> difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

// ---- trees ----

// Paths of every leaf: the actions, and the internal node each is taken from.
struct LeafPaths {
  std::vector<std::vector<int>> action;
  std::vector<std::vector<std::int64_t>> node;
  std::size_t columns = 0;  // the longest path (T)
  std::size_t leaves() const { return action.size(); }
};

LeafPaths leaf_paths(const Tree& tree) {
  LeafPaths out;
  out.action = test::enumerate_reference(tree).path;
  out.node.resize(out.action.size());
  for (std::size_t y = 0; y < out.action.size(); ++y) {
    std::int64_t s = 0;
    for (std::size_t t = 0; t < out.action[y].size(); ++t) {
      out.node[y].push_back(s);
      s = tree.shape.child(s, static_cast<int>(t), out.action[y][t]).id;
    }
    out.columns = std::max(out.columns, out.action[y].size());
  }
  return out;
}

// One enumerated tree at one beta, with its exact target and partition function.
struct Case {
  Tree tree;
  double beta = 0;
  TabularPolicy ref, target;
  double log_z = 0;
  LeafPaths paths;
  bool variable_length = false;
  std::string kind() const { return variable_length ? "[EOS]" : "[fixed T]"; }
};

// V in [2, 4], T in [1, 5] capped at kMaxExactLeaves. Uniform choices (elementOf, not
// inRange, which RapidCheck scales down with its size parameter) so that large trees are
// as common as small ones; shrinking still heads for V = 2, T = 1.
rc::Gen<TreeShape> gen_small_shape(bool variable_length) {
  return rc::gen::exec([=] {
    const int vocab = *rc::gen::element(2, 3, 4);
    const int eos = variable_length ? *rc::gen::inRange(0, vocab) : kNoEos;
    std::vector<int> horizons{1};
    while (horizons.size() < 5 &&
           TreeShape::make(vocab, static_cast<int>(horizons.size()) + 1, eos).num_leaves() <= kMaxExactLeaves) {
      horizons.push_back(static_cast<int>(horizons.size()) + 1);
    }
    return TreeShape::make(vocab, *rc::gen::elementOf(horizons), eos);
  });
}

Case draw_case() {
  Case k;
  k.variable_length = *rc::gen::arbitrary<bool>();
  k.tree = *test::gen_tree_on(*gen_small_shape(k.variable_length));
  k.beta = *test::gen_beta();
  k.ref = reference_policy(k.tree);
  k.target = target_policy(k.tree, k.ref, k.beta);
  k.log_z = log_partition(k.tree, k.beta);
  k.paths = leaf_paths(k.tree);
  RC_TAG(k.kind());
  return k;
}

rc::Gen<double> gen_unit(int steps) {
  return rc::gen::map(rc::gen::inRange(0, steps + 1), [steps](int k) { return static_cast<double>(k) / steps; });
}

// A nonzero error c = logZ_est - log Z, |c| in [0.001, 3].
double draw_log_z_error() {
  const double size = *rc::gen::map(rc::gen::inRange(1, 3001), [](int k) { return k * 1e-3; });
  return *rc::gen::arbitrary<bool>() ? -size : size;
}

struct Proposal {
  std::string family;
  TabularPolicy q;
};

Proposal draw_proposal(const Case& k) {
  const double u = *gen_unit(100);
  // element rather than inRange: uniform over the families at every RapidCheck size.
  switch (*rc::gen::element(0, 1, 2, 3)) {
    case 0:
      return {"tilted", tilted_proposal(k.tree, k.ref, k.beta, 2.0 * u)};
    case 1:
      return {"interpolated", interpolated_proposal(k.ref, k.target, u)};
    case 2:
      return {"mixture", mixture_proposal(k.ref, k.target, u)};
    default:
      return {"random policy", *test::gen_policy_on(k.tree.shape)};
  }
}

std::vector<double> leaf_prob(const TabularPolicy& p) { return test::enumerate(p).prob; }

// ---- the head on leaf rows ----

struct RowSources {
  const TabularPolicy& pi;         // logp: the policy being trained
  const TabularPolicy& ref;        // logp_ref
  const TabularPolicy& old;        // logp_old: the sampling policy (pi on-policy, q offline)
  const std::vector<double>& reward;  // by leaf id
  double log_z;
};

// One row per leaf in `leaves`, right-padded to the tree's horizon.
loss::BatchData<double> leaf_rows(const LeafPaths& paths, const std::vector<std::size_t>& leaves,
                                  const RowSources& src) {
  const std::size_t B = leaves.size(), T = paths.columns;
  loss::BatchData<double> d;
  d.rows = B;
  d.columns = T;
  for (auto* field : {&d.logp, &d.logp_old, &d.logp_ref, &d.mask}) field->assign(B * T, 0.0);
  d.reward.resize(B);
  d.log_z.assign(B, src.log_z);
  for (std::size_t i = 0; i < B; ++i) {
    const std::size_t y = leaves[i];
    d.reward[i] = src.reward[y];
    for (std::size_t t = 0; t < paths.action[y].size(); ++t) {
      const std::int64_t s = paths.node[y][t];
      const int a = paths.action[y][t];
      d.logp[i * T + t] = src.pi.node(s)[a];
      d.logp_old[i * T + t] = src.old.node(s)[a];
      d.logp_ref[i * T + t] = src.ref.node(s)[a];
      d.mask[i * T + t] = 1.0;
    }
  }
  return d;
}

std::vector<std::size_t> all_leaves(const LeafPaths& paths) {
  std::vector<std::size_t> leaves(paths.leaves());
  std::iota(leaves.begin(), leaves.end(), std::size_t{0});
  return leaves;
}

loss::TrajectoryBalanceOptions tb_options(double beta, bool length_normalize = false,
                                          loss::TbWeight weight = loss::TbWeight::none) {
  loss::TrajectoryBalanceOptions options;
  options.beta = beta;
  options.length_normalize = length_normalize;
  options.weight = weight;
  return options;
}

loss::LossResult<double> run_tb(const loss::BatchData<double>& batch, const loss::TrajectoryBalanceOptions& options) {
  return loss::compute_loss(loss::Objective{"tb", options}, batch.view());
}

// The size a row's residual is made of: |log Z| + beta |r| + sum_t (|logp| + |logp_ref|).
double row_scale(const loss::BatchData<double>& d, std::size_t i, double beta) {
  double scale = 1.0 + std::fabs(d.log_z[i]) + beta * std::fabs(d.reward[i]);
  for (std::size_t t = 0; t < d.columns; ++t) {
    scale += std::fabs(d.logp[i * d.columns + t]) + std::fabs(d.logp_ref[i * d.columns + t]);
  }
  return scale;
}

// ---- gradients with respect to the logits theta[s, a] ----

// Adds scale * sum_t g[t] d log pi(a_t | s_t) / d theta along leaf y's path to grad.
void add_chained(const LeafPaths& paths, std::size_t y, const TabularPolicy& pi, std::span<const double> g,
                 double scale, std::vector<double>& grad) {
  const int V = pi.shape.vocab();
  for (std::size_t t = 0; t < paths.action[y].size(); ++t) {
    const std::int64_t s = paths.node[y][t];
    for (int a = 0; a < V; ++a) {
      const double score = (a == paths.action[y][t] ? 1.0 : 0.0) - std::exp(pi.node(s)[a]);
      grad[static_cast<std::size_t>(s * V + a)] += scale * g[t] * score;
    }
  }
}

// The one-row batch {y} has B times row y's gradient in the all-leaves batch (L is a
// mean of independent rows), checked for a drawn leaf y: it is what lets
// expected_head_gradient read every one-row gradient off a single call.
void check_one_row_batch(const Case& k, const RowSources& src, const loss::TrajectoryBalanceOptions& options,
                         const loss::LossResult<double>& all) {
  const std::size_t y = *rc::gen::elementOf(all_leaves(k.paths));
  const loss::LossResult<double> one = run_tb(leaf_rows(k.paths, {y}, src), options);
  const std::size_t T = k.paths.columns;
  const double B = static_cast<double>(k.paths.leaves());
  const std::vector<double> row = scaled({all.grad_logp.begin() + y * T, all.grad_logp.begin() + (y + 1) * T}, B);
  RC_ASSERT(within("one-row batch {y} = B x row y of the all-leaves batch", scaled_distance(one.grad_logp, row),
                   kExact, k.paths.leaves()));
}

// sum_y draw(y) d/dtheta L({y}): the head's gradient on the one-row batch {y}, chained
// to pi's logits, averaged over leaves drawn from `draw` (pi on-policy, q offline).
std::vector<double> expected_head_gradient(const Case& k, const RowSources& src, const std::vector<double>& draw,
                                           const loss::TrajectoryBalanceOptions& options) {
  const loss::LossResult<double> all = run_tb(leaf_rows(k.paths, all_leaves(k.paths), src), options);
  check_one_row_batch(k, src, options, all);
  const std::size_t T = k.paths.columns;
  const double B = static_cast<double>(k.paths.leaves());
  std::vector<double> grad(src.pi.log_prob.size(), 0.0);
  for (std::size_t y = 0; y < k.paths.leaves(); ++y) {
    add_chained(k.paths, y, src.pi, std::span<const double>(all.grad_logp).subspan(y * T, T), B * draw[y], grad);
  }
  return grad;
}

// E_p[(1/|y|) grad_theta log pi(y)].
std::vector<double> expected_length_normalised_score(const Case& k, const TabularPolicy& pi,
                                                     const std::vector<double>& p) {
  std::vector<double> grad(pi.log_prob.size(), 0.0);
  const std::vector<double> ones(k.paths.columns, 1.0);
  for (std::size_t y = 0; y < k.paths.leaves(); ++y) {
    add_chained(k.paths, y, pi, ones, p[y] / static_cast<double>(k.paths.action[y].size()), grad);
  }
  return grad;
}

// P_p(reach s) for every internal node (children have larger ids than parents).
std::vector<double> reach_probabilities(const TabularPolicy& p) {
  const TreeShape& shape = p.shape;
  std::vector<double> reach(static_cast<std::size_t>(shape.num_internal()), 0.0);
  reach[0] = 1.0;
  for (std::int64_t s = 0; s < shape.num_internal(); ++s) {
    const int depth = shape.depth_of(s);
    for (int a = 0; a < shape.vocab(); ++a) {
      const TreeShape::Child c = shape.child(s, depth, a);
      if (!c.is_leaf) reach[static_cast<std::size_t>(c.id)] = reach[s] * std::exp(p.node(s)[a]);
    }
  }
  return reach;
}

// E_q[grad_theta log pi(y)][s, a] = P_q(s) (q(a|s) - pi(a|s)): each visit of s adds
// 1[a = a_t] - pi(a|s), and a_t ~ q(.|s) there.
std::vector<double> expected_score(const TabularPolicy& q, const TabularPolicy& pi) {
  const int V = q.shape.vocab();
  const std::vector<double> reach = reach_probabilities(q);
  std::vector<double> score(q.log_prob.size());
  for (std::size_t i = 0; i < score.size(); ++i) {
    score[i] = reach[i / V] * (std::exp(q.log_prob[i]) - std::exp(pi.log_prob[i]));
  }
  return score;
}

// d KL(pi || p) / d theta[s, a] = P_pi(s) pi(a|s) (Q(s, a) - K(s)), with
// Q(s, a) = log pi(a|s) - log p(a|s) + K(s.a), K(s) = sum_a pi(a|s) Q(s, a) the KL of
// the subtree at s and K(leaf) = 0. (Differentiating K(s) through the log pi(b|s) inside
// Q gives sum_b pi(b|s) (1[b = a] - pi(a|s)) = 0.)
std::vector<double> kl_gradient(const TabularPolicy& pi, const TabularPolicy& p) {
  const TreeShape& shape = pi.shape;
  const int V = shape.vocab();
  std::vector<double> subtree_kl(static_cast<std::size_t>(shape.num_internal()), 0.0);
  std::vector<double> q_value(pi.log_prob.size());
  for (std::int64_t s = shape.num_internal() - 1; s >= 0; --s) {
    const int depth = shape.depth_of(s);
    for (int a = 0; a < V; ++a) {
      const TreeShape::Child c = shape.child(s, depth, a);
      const double below = c.is_leaf ? 0.0 : subtree_kl[static_cast<std::size_t>(c.id)];
      const double q = pi.node(s)[a] - p.node(s)[a] + below;
      q_value[static_cast<std::size_t>(s * V + a)] = q;
      subtree_kl[static_cast<std::size_t>(s)] += std::exp(pi.node(s)[a]) * q;
    }
  }
  const std::vector<double> reach = reach_probabilities(pi);
  std::vector<double> grad(pi.log_prob.size());
  for (std::size_t i = 0; i < grad.size(); ++i) {
    grad[i] = reach[i / V] * std::exp(pi.log_prob[i]) * (q_value[i] - subtree_kl[i / V]);
  }
  return grad;
}

// The same by Richardson-extrapolated central differences of toy_envs' kl_divergence:
// (4 D(h/2) - D(h)) / 3 cancels D's h^2 term. pi's log-probs serve as its logits.
std::vector<double> kl_gradient_by_differences(const TabularPolicy& pi, const TabularPolicy& p) {
  std::vector<double> theta = pi.log_prob;
  auto kl_at = [&](std::size_t i, double step) {
    const double saved = theta[i];
    theta[i] = saved + step;
    const double kl = kl_divergence(TabularPolicy::from_logits(pi.shape, theta), p);
    theta[i] = saved;
    return kl;
  };
  auto central = [&](std::size_t i, double h) { return (kl_at(i, h) - kl_at(i, -h)) / (2.0 * h); };
  std::vector<double> grad(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    grad[i] = (4.0 * central(i, kStep / 2) - central(i, kStep)) / 3.0;
  }
  return grad;
}

// ---- the identities ----

// delta(y) = c + log(pi(y) / p*(y)): at pi = p* with the exact log Z (c = 0) and no
// length normalisation every leaf's residual vanishes.
RC_GTEST_PROP(LossExactTree, ResidualVanishesAtTargetWithExactLogZ, ()) {
  const Case k = draw_case();
  const loss::BatchData<double> batch =
      leaf_rows(k.paths, all_leaves(k.paths), {k.target, k.ref, k.target, k.tree.reward, k.log_z});
  const loss::LossResult<double> result = run_tb(batch, tb_options(k.beta));
  const std::vector<double>& residual = result.diagnostics.per_sequence.at("residual");
  RC_ASSERT(residual.size() == batch.rows);
  double error = 0.0;
  for (std::size_t i = 0; i < batch.rows; ++i) {
    error = std::max(error, std::fabs(residual[i]) / row_scale(batch, i, k.beta));
  }
  RC_ASSERT(within("tb residual at p*, exact log Z " + k.kind(), error, kExact, batch.rows));
}

// Item 8. On-policy, E_pi[grad L({y})] = 2 grad KL(pi || p*): the head's loss is delta^2
// (no 1/2), so its gradient is 2 delta grad log pi, and E_pi[delta grad log pi] =
// grad KL. An error c in log Z adds 2 c E_pi[grad log pi] = 0.
RC_GTEST_PROP(LossExactTree, OnPolicyExpectedGradientIsTwiceKlGradient, ()) {
  const Case k = draw_case();
  const TabularPolicy pi = *test::gen_policy_on(k.tree.shape);
  const double c = draw_log_z_error();
  const std::vector<double> pi_prob = leaf_prob(pi);
  const auto options = tb_options(k.beta);
  const std::vector<double> at_exact =
      expected_head_gradient(k, {pi, k.ref, pi, k.tree.reward, k.log_z}, pi_prob, options);
  const std::vector<double> at_error =
      expected_head_gradient(k, {pi, k.ref, pi, k.tree.reward, k.log_z + c}, pi_prob, options);
  const std::size_t n = k.paths.leaves();
  RC_ASSERT(within("item 8: E_pi[grad] = 2 grad KL (recursion) " + k.kind(),
                   scaled_distance(at_exact, scaled(kl_gradient(pi, k.target), 2.0)), kExact, n));
  RC_ASSERT(within("item 8: E_pi[grad] = 2 grad KL (Richardson FD) " + k.kind(),
                   scaled_distance(at_exact, scaled(kl_gradient_by_differences(pi, k.target), 2.0)),
                   kFiniteDifference, n));
  RC_ASSERT(within("item 8: E_pi[grad] unchanged by log Z error c " + k.kind(), scaled_distance(at_error, at_exact),
                   kExact, n));
}

// Item 9. Off-policy at pi = p*, y ~ q: delta(y) = c, so E_q[grad L({y})] =
// 2 c E_q[grad log pi] = 2 c P_q(s) (q(a|s) - p*(a|s)): zero with the exact log Z, and
// the predicted vector (nonzero wherever q and p* differ on a node q reaches) otherwise.
RC_GTEST_PROP(LossExactTree, OffPolicyGradientAtTargetIsTwiceErrorTimesProposalScore, ()) {
  const Case k = draw_case();
  const Proposal proposal = draw_proposal(k);
  const double c = draw_log_z_error();
  RC_TAG(proposal.family);
  const std::vector<double> q_prob = leaf_prob(proposal.q);
  const auto options = tb_options(k.beta);
  const std::vector<double> at_exact =
      expected_head_gradient(k, {k.target, k.ref, proposal.q, k.tree.reward, k.log_z}, q_prob, options);
  const std::vector<double> at_error =
      expected_head_gradient(k, {k.target, k.ref, proposal.q, k.tree.reward, k.log_z + c}, q_prob, options);
  const std::vector<double> predicted = scaled(expected_score(proposal.q, k.target), 2.0 * c);
  const std::vector<double> zero(predicted.size(), 0.0);
  RC_CLASSIFY(max_abs(predicted) > 1e-6, "predicted vector nonzero");
  const std::size_t n = k.paths.leaves();
  RC_ASSERT(within("item 9: E_q[grad] at p*, c = 0, is 0 " + k.kind(), scaled_distance(at_exact, zero), kExact, n));
  RC_ASSERT(within("item 9: E_q[grad] at p* = 2c E_q[grad log pi] " + k.kind(), scaled_distance(at_error, predicted),
                   kExact, n));
}

// Item 10. With s = 1/|y|, at pi = p* with the exact log Z:
// delta(y) = log Z + (beta r - log Z) / |y| - beta r = (1 - 1/|y|)(log Z - beta r).
RC_GTEST_PROP(LossExactTree, LengthNormalisedResidualAtTarget, ()) {
  const Case k = draw_case();
  const loss::BatchData<double> batch =
      leaf_rows(k.paths, all_leaves(k.paths), {k.target, k.ref, k.target, k.tree.reward, k.log_z});
  const loss::LossResult<double> result = run_tb(batch, tb_options(k.beta, /*length_normalize=*/true));
  const std::vector<double>& residual = result.diagnostics.per_sequence.at("residual");
  RC_ASSERT(residual.size() == batch.rows);
  double error = 0.0;
  for (std::size_t y = 0; y < batch.rows; ++y) {
    const double length = static_cast<double>(k.paths.action[y].size());
    const double expected = (1.0 - 1.0 / length) * (k.log_z - k.beta * k.tree.reward[y]);
    error = std::max(error, std::fabs(residual[y] - expected) / row_scale(batch, y, k.beta));
  }
  RC_ASSERT(within("item 10: normalised residual = (1-1/|y|)(log Z - beta r) " + k.kind(), error, kExact, batch.rows));
}

// Item 10. With s = 1/|y| an error c adds c to every residual, hence exactly
// 2 c E_pi[(1/|y|) grad log pi] to the on-policy expected gradient, at any pi. At a fixed
// length that is 2 c / T E_pi[grad log pi] = 0; with EOS it is not zero in general.
RC_GTEST_PROP(LossExactTree, LengthNormalisedLogZErrorShiftsExpectedGradient, ()) {
  const Case k = draw_case();
  const TabularPolicy pi = *test::gen_policy_on(k.tree.shape);
  const double c = draw_log_z_error();
  const std::vector<double> pi_prob = leaf_prob(pi);
  const auto options = tb_options(k.beta, /*length_normalize=*/true);
  const std::vector<double> at_exact =
      expected_head_gradient(k, {pi, k.ref, pi, k.tree.reward, k.log_z}, pi_prob, options);
  const std::vector<double> at_error =
      expected_head_gradient(k, {pi, k.ref, pi, k.tree.reward, k.log_z + c}, pi_prob, options);
  const std::vector<double> predicted = scaled(expected_length_normalised_score(k, pi, pi_prob), 2.0 * c);
  RC_CLASSIFY(max_abs(predicted) > 1e-6, "shift nonzero");
  const std::size_t n = k.paths.leaves();
  // Compared relative to the gradients themselves: the shift is their difference.
  const double size = 1.0 + std::max(max_abs(at_exact), max_abs(at_error));
  const double error = max_difference(difference(at_error, at_exact), predicted) / size;
  RC_ASSERT(within("item 10: shift by c = 2c E_pi[(1/|y|) grad log pi] " + k.kind(), error, kExact, n));
  if (!k.variable_length) {
    const std::vector<double> zero(predicted.size(), 0.0);
    RC_ASSERT(within("item 10: fixed T, shift by c is 0 " + k.kind(), scaled_distance(predicted, zero), kExact, n));
  }
}

// The importance weight w = sg[pi/q] (weight=importance, logp_old = log q) makes the
// offline expectation E_q[grad L({y})] equal the on-policy E_pi[grad L({y})] with w = 1,
// for any c and either residual: sum_y q (pi/q) g(y) = sum_y pi g(y).
RC_GTEST_PROP(LossExactTree, ImportanceWeightedOfflineGradientIsUnbiased, ()) {
  const Case k = draw_case();
  const TabularPolicy pi = *test::gen_policy_on(k.tree.shape);
  const Proposal proposal = draw_proposal(k);
  const double c = *rc::gen::arbitrary<bool>() ? draw_log_z_error() : 0.0;
  const bool length_normalize = *rc::gen::arbitrary<bool>();
  RC_TAG(proposal.family);
  const std::vector<double> on_policy = expected_head_gradient(
      k, {pi, k.ref, pi, k.tree.reward, k.log_z + c}, leaf_prob(pi), tb_options(k.beta, length_normalize));
  const RowSources offline{pi, k.ref, proposal.q, k.tree.reward, k.log_z + c};
  const std::vector<double> off_policy = expected_head_gradient(
      k, offline, leaf_prob(proposal.q), tb_options(k.beta, length_normalize, loss::TbWeight::importance));
  const std::size_t n = k.paths.leaves();
  RC_ASSERT(within("IS weight: E_q[w grad] = E_pi[grad] " + k.kind(), scaled_distance(off_policy, on_policy),
                   kExact, n));

  // The weights themselves, against pi(y)/q(y) along the enumerated paths.
  const loss::LossResult<double> result =
      run_tb(leaf_rows(k.paths, all_leaves(k.paths), offline),
             tb_options(k.beta, length_normalize, loss::TbWeight::importance));
  const std::vector<double>& weight = result.diagnostics.per_sequence.at("weight");
  RC_ASSERT(weight.size() == n);
  double error = 0.0;
  for (std::size_t y = 0; y < n; ++y) {
    const double ratio =
        std::exp(test::path_log_prob(pi, k.paths.action[y]) - test::path_log_prob(proposal.q, k.paths.action[y]));
    error = std::max(error, std::fabs(weight[y] - ratio) / ratio);
  }
  RC_ASSERT(within("IS weight: w(y) = pi(y)/q(y) (relative) " + k.kind(), error, kExact, n));
}

}  // namespace
}  // namespace disa
