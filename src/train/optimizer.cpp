#include "src/train/optimizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "src/input_error.h"
#include "src/numerical_error.h"

namespace disa::train {
namespace {

void require_positive(const char* field, double value) {
  if (!(std::isfinite(value) && value > 0.0)) {
    throw InputError(fmt::format("{}: must be finite and > 0, got {}", field, value));
  }
}

// [0, 1): a decay of 1 would never forget, and the bias corrections would divide by 0.
void require_decay(const char* field, double value) {
  if (!(value >= 0.0 && value < 1.0)) throw InputError(fmt::format("{}: must be in [0, 1), got {}", field, value));
}

void require_sizes(const char* optimizer, std::size_t state, std::span<double> theta,
                   std::span<const double> gradient) {
  if (theta.size() != state || gradient.size() != state) {
    throw InputError(fmt::format("{}: expected {} parameters and gradient entries, got {} and {}", optimizer, state,
                                 theta.size(), gradient.size()));
  }
}

// Checked before anything changes, so that no NaN ever reaches the state.
void require_finite_gradient(const char* optimizer, std::span<const double> gradient) {
  for (std::size_t i = 0; i < gradient.size(); ++i) {
    if (!std::isfinite(gradient[i])) {
      throw NumericalError(fmt::format("{}: gradient[{}] is {}", optimizer, i, gradient[i]));
    }
  }
}

void require_finite_update(const char* optimizer, std::span<const double> next_theta) {
  for (std::size_t i = 0; i < next_theta.size(); ++i) {
    if (!std::isfinite(next_theta[i])) {
      throw NumericalError(fmt::format("{}: the update makes parameter[{}] {}", optimizer, i, next_theta[i]));
    }
  }
}

}  // namespace

void validate(const SgdOptions& options) {
  require_positive("learning_rate", options.learning_rate);
  require_decay("momentum", options.momentum);
}

void validate(const AdamOptions& options) {
  require_positive("learning_rate", options.learning_rate);
  require_decay("beta1", options.beta1);
  require_decay("beta2", options.beta2);
  require_positive("epsilon", options.epsilon);
}

Sgd::Sgd(const SgdOptions& chosen, std::size_t num_parameters) : options(chosen), velocity(num_parameters, 0.0) {
  validate(options);
}

void Sgd::step(std::span<double> theta, std::span<const double> gradient) {
  require_sizes("sgd", velocity.size(), theta, gradient);
  require_finite_gradient("sgd", gradient);
  // New values go to copies first: a step that fails leaves everything as it was.
  std::vector<double> next_velocity(velocity.size()), next_theta(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    next_velocity[i] = options.momentum * velocity[i] + gradient[i];
    next_theta[i] = theta[i] - options.learning_rate * next_velocity[i];
  }
  require_finite_update("sgd", next_theta);
  velocity = std::move(next_velocity);
  std::copy(next_theta.begin(), next_theta.end(), theta.begin());
  ++steps;
}

Adam::Adam(const AdamOptions& chosen, std::size_t num_parameters)
    : options(chosen), first_moment(num_parameters, 0.0), second_moment(num_parameters, 0.0) {
  validate(options);
}

void Adam::step(std::span<double> theta, std::span<const double> gradient) {
  require_sizes("adam", first_moment.size(), theta, gradient);
  require_finite_gradient("adam", gradient);
  const std::int64_t k = steps + 1;
  const double first_correction = 1.0 - std::pow(options.beta1, static_cast<double>(k));
  const double second_correction = 1.0 - std::pow(options.beta2, static_cast<double>(k));
  std::vector<double> next_m(theta.size()), next_v(theta.size()), next_theta(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    const double g = gradient[i];
    next_m[i] = options.beta1 * first_moment[i] + (1.0 - options.beta1) * g;
    next_v[i] = options.beta2 * second_moment[i] + (1.0 - options.beta2) * g * g;
    const double m_hat = next_m[i] / first_correction;
    const double v_hat = next_v[i] / second_correction;
    next_theta[i] = theta[i] - options.learning_rate * m_hat / (std::sqrt(v_hat) + options.epsilon);
  }
  // g^2 can overflow to inf for |g| > ~1e154; the update is then m_hat / inf = 0, not NaN,
  // but the second moment is inf for good: refuse it like any other non-finite value.
  for (std::size_t i = 0; i < next_v.size(); ++i) {
    if (!std::isfinite(next_v[i])) {
      throw NumericalError(fmt::format("adam: second moment[{}] overflows (gradient {})", i, gradient[i]));
    }
  }
  require_finite_update("adam", next_theta);
  first_moment = std::move(next_m);
  second_moment = std::move(next_v);
  std::copy(next_theta.begin(), next_theta.end(), theta.begin());
  steps = k;
}

void step(Optimizer& optimizer, std::span<double> theta, std::span<const double> gradient) {
  std::visit([&](auto& o) { o.step(theta, gradient); }, optimizer);
}

}  // namespace disa::train
