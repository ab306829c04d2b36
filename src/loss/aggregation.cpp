#include "src/loss/aggregation.h"

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa::loss {

LossAggMode parse_loss_agg_mode(std::string_view text, std::string_view field) {
  if (text == "token-mean") return LossAggMode::token_mean;
  if (text == "seq-mean-token-sum") return LossAggMode::seq_mean_token_sum;
  if (text == "seq-mean-token-mean") return LossAggMode::seq_mean_token_mean;
  if (text == "seq-mean-token-sum-norm") return LossAggMode::seq_mean_token_sum_norm;
  throw InputError(
      fmt::format("{}={}: unknown mode (expected token-mean, seq-mean-token-sum, "
                  "seq-mean-token-mean or seq-mean-token-sum-norm)",
                  field, text));
}

std::string to_string(LossAggMode mode) {
  switch (mode) {
    case LossAggMode::token_mean:
      return "token-mean";
    case LossAggMode::seq_mean_token_sum:
      return "seq-mean-token-sum";
    case LossAggMode::seq_mean_token_mean:
      return "seq-mean-token-mean";
    case LossAggMode::seq_mean_token_sum_norm:
      return "seq-mean-token-sum-norm";
  }
  return "?";
}

double aggregation_denominator(LossAggMode mode, std::span<const std::size_t> counts, std::size_t columns) {
  std::size_t tokens = 0;
  std::size_t nonempty_rows = 0;
  for (std::size_t n : counts) {
    tokens += n;
    nonempty_rows += n > 0;
  }
  switch (mode) {
    case LossAggMode::token_mean:
      return double(tokens);
    case LossAggMode::seq_mean_token_sum:
    case LossAggMode::seq_mean_token_mean:
      return double(nonempty_rows);
    case LossAggMode::seq_mean_token_sum_norm:
      return double(columns);
  }
  return 0.0;
}

std::vector<double> aggregation_coefficients(LossAggMode mode, std::span<const std::size_t> counts,
                                             std::size_t columns, std::string_view objective) {
  const double D = aggregation_denominator(mode, counts, columns);
  if (D == 0.0 && mode != LossAggMode::seq_mean_token_sum_norm) {
    throw InputError(
        fmt::format("{}: the mask has no valid token, so its {} aggregation is 0/0 "
                    "(verl returns nan here)",
                    objective, to_string(mode)));
  }
  std::vector<double> c(counts.size(), 0.0);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    c[i] = mode == LossAggMode::seq_mean_token_mean ? 1.0 / (D * (double(counts[i]) + kMaskedMeanEpsilon)) : 1.0 / D;
  }
  return c;
}

}  // namespace disa::loss
