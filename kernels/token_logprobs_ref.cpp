// CPU reference of kernel 1: the row's lse is disa::log_sum_exp (src/log_sum_exp.h, the
// function every exact pass and the estimator use) over the logits widened to double;
// everything else is the definition written out in double.
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "kernels/token_logprobs.h"
#include "src/log_sum_exp.h"

namespace disa::kernels {

template <class Elem>
void token_logprobs_ref(const Elem* logits, const std::int64_t* target, std::int64_t N, std::int64_t V, float* logp,
                        float* lse, float* entropy) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x(static_cast<std::size_t>(V));
  for (std::int64_t r = 0; r < N; ++r) {
    for (std::int64_t v = 0; v < V; ++v) x[v] = to_float(logits[r * V + v]);
    double l = log_sum_exp(std::span<const double>(x));
    double h = nan;
    if (std::isfinite(l)) {
      h = 0.0;  // -sum p log p over finite logits (p = 0 at -inf)
      for (double xv : x) {
        if (xv != kNegInf) h += std::exp(xv - l) * (l - xv);
      }
    }
    double lp = nan;
    if (target_in_range(target[r], V)) {
      lp = x[target[r]] - l;
    } else {
      l = nan;
      h = nan;
    }
    logp[r] = float(lp);
    lse[r] = float(l);
    if (entropy) entropy[r] = float(h);
  }
}

template <class Elem>
void token_logprobs_backward_ref(const Elem* logits, const std::int64_t* target, const float* lse, const float* logp,
                                 const float* grad_logp, std::int64_t N, std::int64_t V, Elem* dlogits) {
  for (std::int64_t r = 0; r < N; ++r) {
    const bool ok = target_in_range(target[r], V);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double l = ok ? double(lse[r]) : nan;
    // p_t - 1 from logp, as the kernel (target_softmax_minus_one says why).
    const double target_grad = ok ? double(grad_logp[r]) * std::expm1(double(logp[r])) : nan;
    for (std::int64_t v = 0; v < V; ++v) {
      const double x = to_float(logits[r * V + v]);
      const double g = v == target[r] ? target_grad : double(grad_logp[r]) * std::exp(x - l);
      dlogits[r * V + v] = from_float<Elem>(float(g));
    }
  }
}

template void token_logprobs_ref<float>(const float*, const std::int64_t*, std::int64_t, std::int64_t, float*, float*,
                                        float*);
template void token_logprobs_ref<bf16>(const bf16*, const std::int64_t*, std::int64_t, std::int64_t, float*, float*,
                                       float*);
template void token_logprobs_backward_ref<float>(const float*, const std::int64_t*, const float*, const float*,
                                                 const float*, std::int64_t, std::int64_t, float*);
template void token_logprobs_backward_ref<bf16>(const bf16*, const std::int64_t*, const float*, const float*,
                                                const float*, std::int64_t, std::int64_t, bf16*);

}  // namespace disa::kernels
