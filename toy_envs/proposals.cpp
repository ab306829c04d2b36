#include "toy_envs/proposals.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "src/input_error.h"
#include "src/log_softmax.h"
#include "src/log_sum_exp.h"
#include "toy_envs/flows.h"
#include "toy_envs/leaf_distribution.h"
#include "toy_envs/tree_json.h"
#include "toy_envs/tree_passes.h"

namespace disa {
namespace {

void check_range(double x, double lo, double hi, std::string_view name, std::string_view field,
                 std::string_view text) {
  if (!(x >= lo && x <= hi)) {
    throw InputError(fmt::format("{}: {} must be in [{}, {}], got '{}'", field, name, lo, hi, text));
  }
}

}  // namespace

TabularPolicy tilted_proposal(const Tree& tree, const TabularPolicy& reference, double beta,
                              double lambda) {
  return target_policy(tree, reference, lambda * beta);
}

TabularPolicy interpolated_proposal(const TabularPolicy& reference, const TabularPolicy& target,
                                    double lambda) {
  const int V = reference.shape.vocab();
  TabularPolicy q;
  q.shape = reference.shape;
  q.log_prob.resize(reference.log_prob.size());
  const std::int64_t n = reference.shape.num_internal();
#pragma omp parallel if (n >= kMinParallelWork)
  {
    std::vector<double> row(static_cast<std::size_t>(V));
#pragma omp for schedule(static)
    for (std::int64_t s = 0; s < n; ++s) {
      for (int a = 0; a < V; ++a) {
        const double lr = reference.log_prob[s * V + a], lt = target.log_prob[s * V + a];
        // 0 * (-inf) is 0 here: at lambda = 0 the target's zeros do not matter.
        row[a] = (lambda == 1.0 ? 0.0 : (1.0 - lambda) * lr) + (lambda == 0.0 ? 0.0 : lambda * lt);
      }
      const LogSoftmaxShift shift = log_softmax_shift(row);
      for (int a = 0; a < V; ++a) q.log_prob[s * V + a] = shift.at(row[a]);
    }
  }
  return q;
}

TabularPolicy mixture_proposal(const TabularPolicy& reference, const TabularPolicy& target,
                               double eps) {
  const TreeShape& shape = reference.shape;
  const int V = shape.vocab();
  const LogMass ref_mass = log_mass(reference);
  const LogMass target_mass = log_mass(target);
  const double log_w_target = std::log1p(-eps), log_w_ref = std::log(eps);
  TabularPolicy q;
  q.shape = shape;
  q.log_prob.resize(reference.log_prob.size());
  const std::int64_t n = shape.num_internal();
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (std::int64_t s = 0; s < n; ++s) {
    const double w_t = log_w_target + target_mass.node[s], w_r = log_w_ref + ref_mass.node[s];
    const double log_norm = log_add_exp(w_t, w_r);
    for (int a = 0; a < V; ++a) {
      q.log_prob[s * V + a] =
          log_add_exp(w_t + target.log_prob[s * V + a], w_r + reference.log_prob[s * V + a]) -
          log_norm;
    }
  }
  return q;
}

ChiSquare tilted_chi_square_closed_form(const Tree& tree, double beta, double lambda) {
  const TabularPolicy ref = reference_policy(tree);
  const double log_g = log_partition(tree, ref, lambda * beta) +
                       log_partition(tree, ref, (2.0 - lambda) * beta) -
                       2.0 * log_partition(tree, ref, beta);
  return {std::expm1(log_g), log_g};
}

PolicySpec parse_policy_spec(std::string_view text, std::string_view field) {
  PolicySpec spec;
  spec.text = std::string(text);
  const auto expected = [&] {
    return InputError(fmt::format(
        "{}: unknown policy '{}' (expected reference, target, tilted:lambda=L, interp:lambda=L, "
        "mixture:eps=E or file:PATH)",
        field, text));
  };
  if (text == "reference") return spec;
  if (text == "target") {
    spec.kind = PolicySpec::Kind::kTarget;
    return spec;
  }
  if (text.starts_with("file:")) {
    spec.kind = PolicySpec::Kind::kFile;
    spec.path = std::string(text.substr(5));
    if (spec.path.empty()) throw InputError(fmt::format("{}: file: needs a path, got '{}'", field, text));
    return spec;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) throw expected();
  const std::string_view kind = text.substr(0, colon), rest = text.substr(colon + 1);
  std::string_view key;
  if (kind == "tilted") {
    spec.kind = PolicySpec::Kind::kTilted;
    key = "lambda";
  } else if (kind == "interp") {
    spec.kind = PolicySpec::Kind::kInterp;
    key = "lambda";
  } else if (kind == "mixture") {
    spec.kind = PolicySpec::Kind::kMixture;
    key = "eps";
  } else {
    throw expected();
  }
  if (!rest.starts_with(key) || rest.size() <= key.size() || rest[key.size()] != '=') {
    throw InputError(fmt::format("{}: '{}' needs {}=VALUE, e.g. {}:{}=0.5", field, text, key, kind, key));
  }
  const std::string_view number = rest.substr(key.size() + 1);
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), spec.parameter);
  if (ec != std::errc() || end != number.data() + number.size() || !std::isfinite(spec.parameter)) {
    throw InputError(fmt::format("{}: {} must be a number, got '{}' in '{}'", field, key, number, text));
  }
  check_range(spec.parameter, 0.0, spec.kind == PolicySpec::Kind::kTilted ? 2.0 : 1.0, key, field, text);
  return spec;
}

TabularPolicy make_policy(const Tree& tree, double beta, const PolicySpec& spec) {
  check_beta(beta);
  const TabularPolicy ref = reference_policy(tree);
  switch (spec.kind) {
    case PolicySpec::Kind::kReference:
      return ref;
    case PolicySpec::Kind::kTarget:
      return target_policy(tree, ref, beta);
    case PolicySpec::Kind::kTilted:
      // q's tilt lambda beta r must be finite where p*'s beta r is: with lambda = 2 and a
      // reward of -1e308, log q was -inf at a leaf where log p* is finite, and chi2 printed
      // inf with exit 0 (the true chi2 is finite).
      for (std::size_t leaf = 0; leaf < tree.reward.size(); ++leaf) {
        if (!std::isfinite(spec.parameter * beta * tree.reward[leaf])) {
          throw InputError(
              fmt::format("{}: lambda beta = {} times the reward {} of leaf {} overflows a double (log q "
                          "would be infinite); use a smaller lambda, beta or rewards",
                          spec.text, spec.parameter * beta, tree.reward[leaf], leaf));
        }
      }
      return tilted_proposal(tree, ref, beta, spec.parameter);
    case PolicySpec::Kind::kInterp:
      return interpolated_proposal(ref, target_policy(tree, ref, beta), spec.parameter);
    case PolicySpec::Kind::kMixture:
      return mixture_proposal(ref, target_policy(tree, ref, beta), spec.parameter);
    case PolicySpec::Kind::kFile: {
      return load_policy(spec.path, tree.shape);
    }
  }
  throw std::logic_error("make_policy: unhandled kind");
}

}  // namespace disa
