// First-order optimizers over a flat parameter vector (the tabular policy's logits,
// and a learned log Z_phi appended to them where a method has one).
//
//   SGD (momentum mu, PyTorch's convention):  v <- mu v + g,   theta <- theta - lr v
//       (mu = 0 is plain SGD; the first step has v = g)
//   Adam (Kingma & Ba 2015, Algorithm 1), at step k = 1, 2, ...:
//       m <- beta1 m + (1 - beta1) g,          v <- beta2 v + (1 - beta2) g^2
//       m_hat = m / (1 - beta1^k),             v_hat = v / (1 - beta2^k)
//       theta <- theta - lr m_hat / (sqrt(v_hat) + epsilon)
//
// The state (moments, step count) is plain public members so that a checkpoint can
// write and restore it as it is. A step either succeeds completely or throws and
// leaves parameters and state untouched: a non-finite gradient entry, or an update
// that would make a parameter non-finite, is a NumericalError naming the index.
// Bad hyper-parameters are an InputError naming the field.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

namespace disa::train {

struct SgdOptions {
  double learning_rate = 0.1;  // finite, > 0
  double momentum = 0.0;       // in [0, 1)
};

struct AdamOptions {
  double learning_rate = 1e-2;  // finite, > 0
  double beta1 = 0.9;           // in [0, 1)
  double beta2 = 0.999;         // in [0, 1)
  double epsilon = 1e-8;        // finite, > 0
};

// InputError naming the field ("learning_rate: must be finite and > 0, got nan").
void validate(const SgdOptions& options);
void validate(const AdamOptions& options);

class Sgd {
 public:
  // Validates the options; the velocity starts at zero.
  Sgd(const SgdOptions& options, std::size_t num_parameters);

  // theta and gradient must both have num_parameters entries (InputError otherwise).
  void step(std::span<double> theta, std::span<const double> gradient);

  SgdOptions options;
  std::vector<double> velocity;  // v, one per parameter
  std::int64_t steps = 0;        // completed steps
};

class Adam {
 public:
  // Validates the options; both moments start at zero.
  Adam(const AdamOptions& options, std::size_t num_parameters);

  void step(std::span<double> theta, std::span<const double> gradient);

  AdamOptions options;
  std::vector<double> first_moment;   // m
  std::vector<double> second_moment;  // v
  std::int64_t steps = 0;             // k after the last completed step
};

// Either optimizer behind one call, for trainers that take the choice as a setting.
using Optimizer = std::variant<Sgd, Adam>;
void step(Optimizer& optimizer, std::span<double> theta, std::span<const double> gradient);

}  // namespace disa::train
