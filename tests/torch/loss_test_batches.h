// Seeded random loss batches for the LibTorch tests (tests/torch/loss_autograd_test.cpp),
// and the same batch as the reference's tensors (tests/torch/loss_torch_reference.h) and
// as the adapter's (llm/loss_autograd.h).
//
// Unlike tests/util/loss_batch_gen.h (RapidCheck, right padding, finite garbage) these
// batches are plain seeded draws with what the autograd comparison needs to reach: rows
// padded inside as well as at the end, NaN and +-inf in the padding, empty rows, singleton
// and scattered group ids, log-ratios past PPO's +-20 clamp and past k3's clamp at 10.
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "llm/loss_autograd.h"
#include "src/loss/loss_batch.h"
#include "tests/torch/loss_torch_reference.h"

namespace disa::loss_test {

namespace L = disa::loss;
using torch::Tensor;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

enum class AdvantageSource { grpo, per_sequence, per_token };

struct BatchSpec {
  int rows = 1, columns = 1;
  std::uint64_t seed = 1;
  bool binary_reward = true;
  double old_noise = 0.1;  // sd of logp_old - logp per token
  double ref_noise = 0.3;  // sd of logp_ref - logp (3: k3 reaches its clamp at 10)
  bool holes = false;      // padding inside rows, not only at the right
  bool outliers = false;   // some |logp - logp_old| = 25: PPO's +-20 clamp, GSPO's cap at 10
};

inline std::string describe(const BatchSpec& s) {
  char text[200];
  std::snprintf(text, sizeof text, "B=%d T=%d seed=%llu %s reward, old noise %g, ref noise %g%s%s", s.rows,
                s.columns, static_cast<unsigned long long>(s.seed), s.binary_reward ? "binary" : "normal",
                s.old_noise, s.ref_noise, s.holes ? ", holes" : "", s.outliers ? ", outliers" : "");
  return text;
}

// Padding gets NaN, +-inf and huge values: a head must never read them.
inline double garbage(std::size_t k) {
  static const double values[] = {kNaN, -kInf, kInf, 1e30, -7.0};
  return values[k % 5];
}

inline L::BatchData<double> make_batch(const BatchSpec& s, AdvantageSource advantages) {
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::size_t B = s.rows, T = s.columns;
  L::BatchData<double> d;
  d.rows = B;
  d.columns = T;

  // Lengths: some rows empty (row 0 always, when B >= 3), the last row never.
  std::vector<std::size_t> n(B);
  for (std::size_t i = 0; i < B; ++i)
    n[i] = (B >= 3 && uniform(rng) < 0.2) ? 0 : 1 + std::size_t(uniform(rng) * T) % T;
  if (B >= 3) n[0] = 0;
  n[B - 1] = std::max<std::size_t>(n[B - 1], 1);
  d.mask.assign(B * T, 0.0);
  for (std::size_t i = 0; i < B; ++i) {
    std::vector<std::size_t> columns(T);
    std::iota(columns.begin(), columns.end(), 0);
    if (s.holes) std::shuffle(columns.begin(), columns.end(), rng);
    for (std::size_t k = 0; k < n[i]; ++k) d.mask[i * T + columns[k]] = 1.0;
  }

  // Groups of 1-4 rows with scattered ids (negative, unsorted), rows shuffled; at least
  // one singleton when B >= 3.
  std::vector<std::int64_t> group;
  std::int64_t id = -40;
  while (group.size() < B) {
    std::size_t size = 1 + std::size_t(uniform(rng) * 4) % 4;
    if (group.empty() && B >= 3) size = 1;
    id += 1 + std::int64_t(uniform(rng) * 30);
    for (std::size_t k = 0; k < size && group.size() < B; ++k) group.push_back(id);
  }
  std::shuffle(group.begin(), group.end(), rng);
  d.group = group;

  d.logp.resize(B * T);
  d.logp_old.resize(B * T);
  d.logp_ref.resize(B * T);
  for (std::size_t k = 0; k < B * T; ++k) {
    if (d.mask[k] == 0.0) {
      d.logp[k] = garbage(k);
      d.logp_old[k] = garbage(k + 1);
      d.logp_ref[k] = garbage(k + 2);
      continue;
    }
    d.logp[k] = std::log(0.01 + 0.99 * uniform(rng));
    d.logp_old[k] = d.logp[k] + s.old_noise * normal(rng);
    d.logp_ref[k] = d.logp[k] + s.ref_noise * normal(rng);
    if (s.outliers && uniform(rng) < 0.05) d.logp_old[k] = d.logp[k] + (uniform(rng) < 0.5 ? 25.0 : -25.0);
  }
  d.reward.resize(B);
  d.log_z.resize(B);
  for (std::size_t i = 0; i < B; ++i) {
    d.reward[i] = s.binary_reward ? double(uniform(rng) < 0.5) : normal(rng);
    d.log_z[i] = 2.0 * normal(rng);
  }
  if (advantages == AdvantageSource::per_sequence) {
    d.advantages.resize(B);
    for (double& a : d.advantages) a = normal(rng);
  } else if (advantages == AdvantageSource::per_token) {
    d.advantages.resize(B * T);
    for (std::size_t k = 0; k < B * T; ++k) d.advantages[k] = d.mask[k] != 0.0 ? normal(rng) : garbage(k + 3);
  }
  return d;
}

template <class Real>
L::BatchData<Real> cast(const L::BatchData<double>& d) {
  auto to = [](const std::vector<double>& v) { return std::vector<Real>(v.begin(), v.end()); };
  L::BatchData<Real> out;
  out.rows = d.rows;
  out.columns = d.columns;
  out.logp = to(d.logp);
  out.logp_old = to(d.logp_old);
  out.logp_ref = to(d.logp_ref);
  out.mask = to(d.mask);
  out.reward = to(d.reward);
  out.log_z = to(d.log_z);
  out.advantages = to(d.advantages);
  out.group = d.group;
  return out;
}

// ---- tensors from a batch -------------------------------------------------------------
template <class T>
Tensor tensor_of(const std::vector<T>& v, std::vector<std::int64_t> sizes) {
  if (v.empty()) return {};
  return torch::from_blob(const_cast<T*>(v.data()), sizes, torch::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value))
      .clone();
}

template <class Real>
std::vector<std::int64_t> advantage_sizes(const L::BatchData<Real>& d) {
  if (d.advantages.size() == d.rows * d.columns) return {std::int64_t(d.rows), std::int64_t(d.columns)};
  return {std::int64_t(d.rows)};
}

// The reference always runs in double, on the batch's values (float ones exactly widened).
template <class Real>
disa::torch_reference::Batch reference_batch(const L::BatchData<Real>& d) {
  const std::int64_t B = d.rows, T = d.columns;
  disa::torch_reference::Batch b;
  b.logp = tensor_of(d.logp, {B, T}).to(torch::kFloat64).requires_grad_(true);
  b.logp_old = tensor_of(d.logp_old, {B, T}).to(torch::kFloat64);
  b.logp_ref = tensor_of(d.logp_ref, {B, T}).to(torch::kFloat64);
  b.mask = tensor_of(d.mask, {B, T}).to(torch::kBool);
  b.reward = tensor_of(d.reward, {B}).to(torch::kFloat64);
  b.group = tensor_of(d.group, {B});
  b.log_z = tensor_of(d.log_z, {B}).to(torch::kFloat64).requires_grad_(true);
  if (!d.advantages.empty()) b.advantages = tensor_of(d.advantages, advantage_sizes(d)).to(torch::kFloat64);
  return b;
}

template <class Real>
disa::llm::LossTensors adapter_tensors(const L::BatchData<Real>& d) {
  const std::int64_t B = d.rows, T = d.columns;
  disa::llm::LossTensors t;
  t.logp = tensor_of(d.logp, {B, T}).requires_grad_(true);
  t.logp_old = tensor_of(d.logp_old, {B, T});
  t.logp_ref = tensor_of(d.logp_ref, {B, T});
  t.mask = tensor_of(d.mask, {B, T});
  t.reward = tensor_of(d.reward, {B});
  t.group = tensor_of(d.group, {B});
  t.log_z = tensor_of(d.log_z, {B}).requires_grad_(true);
  if (!d.advantages.empty()) t.advantages = tensor_of(d.advantages, advantage_sizes(d));
  return t;
}

}  // namespace disa::loss_test
