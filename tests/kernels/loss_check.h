// Compares a kernel-2 result (GPU or CPU device) with disa::loss::compute_loss's:
// loss, grad_logp, grad_log_z and every diagnostic, with tolerance abs + rel * |ref|,
// printing the first mismatches. compare_values is the kernel checkers' comparison.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "src/loss/loss_result.h"

namespace disa::kernels_test {

struct Tolerance {
  double abs, rel;
};

inline bool close(double got, double want, Tolerance tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol.abs + tol.rel * std::fabs(want);
}

// Adds a failure per mismatch (the first 10 printed) and returns the count.
template <class Real>
int compare_values(const std::string& what, const std::vector<Real>& got, const std::vector<Real>& want,
                   Tolerance tol) {
  if (got.size() != want.size()) {
    ADD_FAILURE() << what << ": " << got.size() << " entries, expected " << want.size();
    return 1;
  }
  int mismatches = 0;
  for (std::size_t k = 0; k < want.size(); ++k) {
    if (!close(double(got[k]), double(want[k]), tol) && mismatches++ < 10) {
      ADD_FAILURE() << what << "[" << k << "]: got " << double(got[k]) << ", reference " << double(want[k]);
    }
  }
  return mismatches;
}

template <class Real>
int compare_results(const disa::loss::LossResult<Real>& got, const disa::loss::LossResult<Real>& want,
                    Tolerance tol) {
  int mismatches = 0;
  if (!close(got.loss, want.loss, tol)) {
    ++mismatches;
    ADD_FAILURE() << "loss: got " << got.loss << ", reference " << want.loss;
  }
  mismatches += compare_values("grad_logp", got.grad_logp, want.grad_logp, tol);
  mismatches += compare_values("grad_log_z", got.grad_log_z, want.grad_log_z, tol);
  const auto& gd = got.diagnostics;
  const auto& wd = want.diagnostics;
  if (gd.scalars.size() != wd.scalars.size() || gd.per_sequence.size() != wd.per_sequence.size()) {
    ++mismatches;
    ADD_FAILURE() << "diagnostics: " << gd.scalars.size() << " scalars and " << gd.per_sequence.size()
                  << " per-sequence arrays, reference " << wd.scalars.size() << " and " << wd.per_sequence.size();
  }
  for (const auto& [key, value] : wd.scalars) {
    const auto it = gd.scalars.find(key);
    if (it == gd.scalars.end() || !close(it->second, value, tol)) {
      ++mismatches;
      ADD_FAILURE() << "diagnostic " << key << ": got " << (it == gd.scalars.end() ? NAN : it->second)
                    << ", reference " << value;
    }
  }
  for (const auto& [key, values] : wd.per_sequence) {
    const auto it = gd.per_sequence.find(key);
    if (it == gd.per_sequence.end()) {
      ++mismatches;
      ADD_FAILURE() << "diagnostic " << key << " missing";
      continue;
    }
    mismatches += compare_values("diagnostic " + key, it->second, values, tol);
  }
  return mismatches;
}

}  // namespace disa::kernels_test
