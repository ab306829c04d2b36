// Ground truth for the exact passes, by brute-force enumeration.
//
// Independent of the code under test: the walk uses only TreeShape::child to find
// where an action leads, and a plain softmax of each node's row in double
// (max-shifted, no log_sum_exp, no flows, no backward_pass/forward_pass). Every
// quantity is then a direct sum over leaves:
//   pi(y) = prod_t softmax(row(s_{t-1}))[a_t],   Z = sum_y pi_ref(y) e^{beta r(y)},
//   p*(y) = pi_ref(y) e^{beta r(y)} / Z,         chi2(p||q) = sum_y p(y)^2 / q(y) - 1,
//   KL(p||q) = sum_y p(y) log(p(y)/q(y)),         H(p) = -sum_y p(y) log p(y).
// Only usable for small trees (the tests keep them at <= ~2000 leaves).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

#include "toy_envs/tree.h"
#include "toy_envs/tree_shape.h"

namespace disa::test {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Plain softmax of one row; entries of -inf get probability 0.
inline std::vector<double> softmax_row(std::span<const double> row) {
  double m = -kInf;
  for (double x : row) m = x > m ? x : m;
  std::vector<double> p(row.size());
  double total = 0.0;
  for (std::size_t a = 0; a < row.size(); ++a) {
    p[a] = row[a] == -kInf ? 0.0 : std::exp(row[a] - m);
    total += p[a];
  }
  for (double& x : p) x /= total;
  return p;
}

struct Enumeration {
  std::vector<double> prob;            // [num_leaves] pi(y), indexed by leaf id
  std::vector<std::vector<int>> path;  // [num_leaves] the actions that reached the leaf
  std::vector<int> visits;             // [num_leaves] how often the walk reached the leaf (must be 1)
  std::vector<std::int64_t> node_visits;  // [num_internal] same for internal nodes
};

namespace detail {

inline void walk(const TreeShape& shape, std::span<const double> rows, std::int64_t node, int depth,
                 double prob, std::vector<int>& actions, Enumeration& out) {
  const int V = shape.vocab();
  ++out.node_visits.at(static_cast<std::size_t>(node));
  const std::vector<double> p = softmax_row(rows.subspan(static_cast<std::size_t>(node) * V, V));
  for (int a = 0; a < V; ++a) {
    actions.push_back(a);
    const TreeShape::Child c = shape.child(node, depth, a);
    if (c.is_leaf) {
      const auto y = static_cast<std::size_t>(c.id);
      out.prob.at(y) = prob * p[a];
      out.path.at(y) = actions;
      ++out.visits.at(y);
    } else {
      walk(shape, rows, c.id, depth + 1, prob * p[a], actions, out);
    }
    actions.pop_back();
  }
}

inline void sums(const TreeShape& shape, std::span<const double> leaf_value, std::int64_t node,
                 int depth, std::vector<double>& out) {
  double total = 0.0;
  for (int a = 0; a < shape.vocab(); ++a) {
    const TreeShape::Child c = shape.child(node, depth, a);
    if (c.is_leaf) {
      total += leaf_value[static_cast<std::size_t>(c.id)];
    } else {
      sums(shape, leaf_value, c.id, depth + 1, out);
      total += out[static_cast<std::size_t>(c.id)];
    }
  }
  out[static_cast<std::size_t>(node)] = total;
}

}  // namespace detail

// Every root-to-leaf path of `shape`, with per-node rows (logits or log-probs,
// [num_internal, V]) turned into probabilities by a plain softmax.
inline Enumeration enumerate(const TreeShape& shape, std::span<const double> rows) {
  Enumeration out;
  const auto n = static_cast<std::size_t>(shape.num_leaves());
  out.prob.assign(n, 0.0);
  out.path.assign(n, {});
  out.visits.assign(n, 0);
  out.node_visits.assign(static_cast<std::size_t>(shape.num_internal()), 0);
  std::vector<int> actions;
  detail::walk(shape, rows, 0, 0, 1.0, actions, out);
  return out;
}
inline Enumeration enumerate(const TabularPolicy& p) { return enumerate(p.shape, p.log_prob); }
inline Enumeration enumerate_reference(const Tree& t) { return enumerate(t.shape, t.logits); }

// For every internal node, the sum of leaf_value over the leaves below it.
inline std::vector<double> subtree_sums(const TreeShape& shape, std::span<const double> leaf_value) {
  std::vector<double> out(static_cast<std::size_t>(shape.num_internal()), 0.0);
  detail::sums(shape, leaf_value, 0, 0, out);
  return out;
}

// log pi(path) = sum_t log_prob(s_{t-1}, a_t), following the actions with TreeShape::child.
// Stays finite where pi(path) itself would underflow (beta r of hundreds).
inline double path_log_prob(const TabularPolicy& policy, const std::vector<int>& path) {
  const int V = policy.shape.vocab();
  std::int64_t node = 0;
  double total = 0.0;
  for (std::size_t t = 0; t < path.size(); ++t) {
    total += policy.log_prob[static_cast<std::size_t>(node) * V + path[t]];
    const TreeShape::Child c = policy.shape.child(node, static_cast<int>(t), path[t]);
    if (c.is_leaf && t + 1 != path.size()) throw std::logic_error("path_log_prob: path runs past a leaf");
    node = c.id;
  }
  return total;
}

// ---- direct sums over leaves ------------------------------------------------

inline double sum(std::span<const double> v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s;
}

// Z = sum_y pi_ref(y) e^{beta r(y)}.
inline double partition(std::span<const double> ref, std::span<const double> reward, double beta) {
  double z = 0.0;
  for (std::size_t y = 0; y < ref.size(); ++y) z += ref[y] * std::exp(beta * reward[y]);
  return z;
}

// p*(y) = pi_ref(y) e^{beta r(y)} / Z.
inline std::vector<double> tilt(std::span<const double> ref, std::span<const double> reward,
                                double beta) {
  const double z = partition(ref, reward, beta);
  std::vector<double> p(ref.size());
  for (std::size_t y = 0; y < ref.size(); ++y) p[y] = ref[y] * std::exp(beta * reward[y]) / z;
  return p;
}

// sum_y p^2/q - 1; +inf when q = 0 where p > 0.
inline double chi_square(std::span<const double> p, std::span<const double> q) {
  double g = 0.0;
  for (std::size_t y = 0; y < p.size(); ++y) {
    if (p[y] == 0.0) continue;
    if (q[y] == 0.0) return kInf;
    g += p[y] * p[y] / q[y];
  }
  return g - 1.0;
}

inline double kl(std::span<const double> p, std::span<const double> q) {
  double e = 0.0;
  for (std::size_t y = 0; y < p.size(); ++y) {
    if (p[y] == 0.0) continue;
    if (q[y] == 0.0) return kInf;
    e += p[y] * (std::log(p[y]) - std::log(q[y]));
  }
  return e;
}

// sum_y p(y) (|log p(y)| + |log q(y)|): the scale of KL's terms, for tolerances.
inline double kl_scale(std::span<const double> p, std::span<const double> q) {
  double e = 0.0;
  for (std::size_t y = 0; y < p.size(); ++y) {
    if (p[y] > 0.0) e += p[y] * (std::fabs(std::log(p[y])) + std::fabs(std::log(q[y])));
  }
  return e;
}

inline double entropy(std::span<const double> p) {
  double h = 0.0;
  for (double x : p) {
    if (x > 0.0) h -= x * std::log(x);
  }
  return h;
}

inline double expectation(std::span<const double> p, std::span<const double> v) {
  double e = 0.0;
  for (std::size_t y = 0; y < p.size(); ++y) e += p[y] * v[y];
  return e;
}

// P(r >= kCorrectThreshold) under p.
inline double accuracy(std::span<const double> p, std::span<const double> reward) {
  double acc = 0.0;
  for (std::size_t y = 0; y < p.size(); ++y) acc += reward[y] >= kCorrectThreshold ? p[y] : 0.0;
  return acc;
}

}  // namespace disa::test
