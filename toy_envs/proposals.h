// Proposal families as tabular policies (THEORY.md items 5-6), and the SPEC
// syntax that names a policy everywhere (CLI, demo, checks):
//
//   reference          pi_ref
//   target             p* at the given beta
//   tilted:lambda=L    q_L ∝ pi_ref exp(L beta r)  (L in [0, 2]; 0 = pi_ref, 1 = p*)
//   interp:lambda=L    q(a|s) ∝ pi_ref(a|s)^(1-L) p*(a|s)^L, per node (L in [0, 1])
//   mixture:eps=E      sequence-level (1-E) p* + E pi_ref (E in [0, 1])
//   file:PATH          a tabular policy saved as {"format":"disa-policy",...}
//
// The sequence-level mixture is not a per-node mixture with fixed weights, but on
// a tree every node has a unique prefix, so it is still exactly tabular:
//   q(a|s) = [(1-E) P*(s) p*(a|s) + E Pref(s) pi_ref(a|s)] / [(1-E) P*(s) + E Pref(s)],
// with P(s) the probability of reaching s. It is built that way, so chi2 and
// sampling treat it like every other proposal; tests check it against enumeration.
#pragma once

#include <string>
#include <string_view>

#include "toy_envs/divergences.h"
#include "toy_envs/tree.h"

namespace disa {

TabularPolicy tilted_proposal(const Tree& tree, const TabularPolicy& reference, double beta,
                              double lambda);
TabularPolicy interpolated_proposal(const TabularPolicy& reference, const TabularPolicy& target,
                                    double lambda);
TabularPolicy mixture_proposal(const TabularPolicy& reference, const TabularPolicy& target,
                               double eps);

// Item 5's closed form: chi2(p* || q_lambda) = Z(lambda beta) Z((2 - lambda) beta) / Z(beta)^2 - 1.
ChiSquare tilted_chi_square_closed_form(const Tree& tree, double beta, double lambda);

struct PolicySpec {
  enum class Kind { kReference, kTarget, kTilted, kInterp, kMixture, kFile };
  Kind kind = Kind::kReference;
  double parameter = 0.0;  // lambda or eps
  std::string path;        // for kFile
  std::string text;        // the spec as given
};

// Throws InputError naming `field` (e.g. "--proposal") and the bad text.
PolicySpec parse_policy_spec(std::string_view text, std::string_view field);

// The policy a spec names on this tree at inverse temperature beta.
TabularPolicy make_policy(const Tree& tree, double beta, const PolicySpec& spec);

}  // namespace disa
