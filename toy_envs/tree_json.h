// Reading and writing trees and tabular policies.
//
// JSON (the interchange format, anyone can write it):
//   {"format":"disa-tree","version":1,"vocab":V,"horizon":T,"eos":E or null,
//    "nodes":[{"prefix":[...],"logits":[V numbers]},...],
//    "leaves":[{"path":[...],"reward":r,"strategy":k},...]}
// "strategy" may be omitted or null. Several trees (a multi-prompt family):
//   {"format":"disa-tree-set","version":1,"trees":[<disa-tree>,...]}
// A tabular policy for a given tree shape (logits may be null for zero mass):
//   {"format":"disa-policy","version":1,"nodes":[{"prefix":[...],"logits":[...]},...]}
//
// Binary (for trees of 10^6-10^7 leaves, and what numpy reads in bench/): little-endian,
//   "DISATREE" | u32 version=1 | i32 vocab | i32 horizon | i32 eos (-1 none)
//   | i64 num_internal | i64 num_leaves | f64 logits[num_internal*V] (level order)
//   | f64 reward[num_leaves] | i32 strategy[num_leaves]
// chosen by the ".dtree" extension when saving, by the magic when loading.
//
// Loading validates everything (shape, finiteness, every internal node and leaf
// present exactly once, no unknown keys) and throws InputError naming the first
// problem by its JSON path, e.g. "tree.json: /nodes/3/logits/1: expected a number, got "nan""
// (JSON has no NaN or infinity; a number that overflows a double is a parse error).
// Saving is atomic (src/atomic_file.h); numbers are written in shortest
// round-trip form, so save/load is lossless.
#pragma once

#include <string>
#include <vector>

#include "toy_envs/tree.h"

namespace disa {

void save_tree(const Tree& tree, const std::string& path);
void save_trees(const std::vector<Tree>& trees, const std::string& path);  // 1 tree: disa-tree
std::vector<Tree> load_trees(const std::string& path);
Tree load_tree(const std::string& path);  // refuses a set of more than one tree

// From already-read text (tests, and tools that build JSON in memory).
std::vector<Tree> parse_trees_json(const std::string& text, const std::string& source);

void save_policy(const TabularPolicy& policy, const std::string& path);
TabularPolicy load_policy(const std::string& path, const TreeShape& shape);
TabularPolicy parse_policy_json(const std::string& text, const std::string& source,
                                const TreeShape& shape);

}  // namespace disa
