// The two traversals every exact quantity is built from.
//
// backward_pass: leaf-to-root, one level at a time (levels T-1 down to 0), each
// level in parallel with OpenMP. A node's value is a function of its own id and
// of its V children's values, given in action order. Each node's value is
// computed by exactly one thread from the same inputs, so the result does not
// depend on the thread count.
//
// forward_pass: root-to-leaf, the same level structure, each node handing a value
// to each of its children (e.g. the log-mass of reaching it).
//
// Cost: O(num_internal * V) time, O(num_internal) memory for the values.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "toy_envs/tree_shape.h"

namespace disa {

// Levels (or arrays) smaller than this run on one thread: opening a parallel
// region costs more than the work, and far more when the other core is busy.
inline constexpr std::int64_t kMinParallelWork = 4096;

// leaf_value(leaf_id) -> double; node_value(node_id, std::span<const double> child_values)
// -> double. Returns the value of every internal node (index = node id).
template <class LeafValue, class NodeValue>
std::vector<double> backward_pass(const TreeShape& shape, LeafValue&& leaf_value,
                                  NodeValue&& node_value) {
  const int V = shape.vocab();
  const int B = shape.branching();
  const int eos = shape.eos();
  std::vector<double> value(static_cast<std::size_t>(shape.num_internal()));
  for (int d = shape.horizon() - 1; d >= 0; --d) {
    const std::int64_t begin = shape.level_offset(d), end = shape.level_offset(d + 1);
    const bool children_are_leaves = d + 1 == shape.horizon();
    const std::int64_t child_base =
        children_are_leaves ? shape.horizon_leaf_offset() : shape.level_offset(d + 1);
#pragma omp parallel if (end - begin >= kMinParallelWork)
    {
      std::vector<double> child_value(static_cast<std::size_t>(V));
#pragma omp for schedule(static)
      for (std::int64_t s = begin; s < end; ++s) {
        std::int64_t next = child_base + (s - begin) * B;  // first non-EOS child
        for (int a = 0; a < V; ++a) {
          if (a == eos) {
            child_value[a] = leaf_value(s);
          } else {
            child_value[a] = children_are_leaves ? leaf_value(next) : value[next];
            ++next;
          }
        }
        value[s] = node_value(s, std::span<const double>(child_value));
      }
    }
  }
  return value;
}

// edge_value(node_id, action, node_value) -> child value. Returns the values of
// all internal nodes (root = root_value) and writes the leaves' values into
// `leaf_value` ([num_leaves]).
template <class EdgeValue>
std::vector<double> forward_pass(const TreeShape& shape, double root_value, EdgeValue&& edge_value,
                                 std::span<double> leaf_value) {
  const int V = shape.vocab();
  const int B = shape.branching();
  const int eos = shape.eos();
  std::vector<double> value(static_cast<std::size_t>(shape.num_internal()));
  value[0] = root_value;
  for (int d = 0; d < shape.horizon(); ++d) {
    const std::int64_t begin = shape.level_offset(d), end = shape.level_offset(d + 1);
    const bool children_are_leaves = d + 1 == shape.horizon();
    const std::int64_t child_base =
        children_are_leaves ? shape.horizon_leaf_offset() : shape.level_offset(d + 1);
#pragma omp parallel for schedule(static) if (end - begin >= kMinParallelWork)
    for (std::int64_t s = begin; s < end; ++s) {
      std::int64_t next = child_base + (s - begin) * B;
      for (int a = 0; a < V; ++a) {
        const double v = edge_value(s, a, value[s]);
        if (a == eos) {
          leaf_value[s] = v;
        } else {
          (children_are_leaves ? leaf_value[next] : value[next]) = v;
          ++next;
        }
      }
    }
  }
  return value;
}

}  // namespace disa
