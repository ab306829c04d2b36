// Tests SGD and Adam (src/train/optimizer.h) against reference steps, and their refusals.
//
// Against: three steps on a 4-vector computed independently in 40-digit decimal
// arithmetic (Python's decimal module, the recurrences of the header written out
// afresh), and closed forms: with a constant gradient g, Adam's bias-corrected moments
// are m_hat = g and v_hat = g^2 exactly, so theta_k = theta_0 - k lr g / (|g| + eps);
// SGD with momentum mu has v_k = g (1 - mu^k) / (1 - mu).
//
// Tolerance kRoundOff = 1e-14 relative to 1 + |theta|: each step is ~10 flops per entry
// on O(1) values (error ~ 10 x 2^-53 ~ 1e-15 per step, three steps), and the decimal
// references are rounded to 17 significant digits.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "src/numerical_error.h"
#include "src/train/optimizer.h"
#include "tests/util/errors.h"

namespace disa::train {
namespace {

constexpr double kRoundOff = 1e-14;

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], kRoundOff * (1.0 + std::fabs(want[i]))) << "entry " << i;
  }
}

const std::vector<double> kStart{0.5, -1.0, 2.0, 0.0};
// Entry 2 has a constant gradient (closed form); entry 3 is zero for two steps (no
// division 0/0: m = v = 0 gives an update of exactly 0).
const std::vector<std::vector<double>> kGradients{
    {0.1, -0.2, 3.0, 0.0}, {-0.3, 0.4, 3.0, 0.0}, {0.2, -0.1, 3.0, 1e-3}};

TEST(Adam, MatchesDecimalReferenceForThreeSteps) {
  const std::vector<std::vector<double>> want{
      {0.49000000099999991, -0.99000000049999992, 1.9900000000333333, 0.0},
      {0.49494189911200659, -0.99366103565460373, 1.9800000000666667, 0.0},
      {0.49475402217659348, -0.99502794223344404, 1.9700000001, -0.0063880254054568437}};
  Adam adam({.learning_rate = 0.01}, kStart.size());
  std::vector<double> theta = kStart;
  for (std::size_t k = 0; k < kGradients.size(); ++k) {
    adam.step(theta, kGradients[k]);
    SCOPED_TRACE(k + 1);
    expect_near_all(theta, want[k]);
    EXPECT_EQ(adam.steps, static_cast<std::int64_t>(k + 1));
  }
}

TEST(Adam, ConstantGradientMovesByLearningRateEachStep) {
  const double lr = 0.05, eps = 1e-8;
  const std::vector<double> g{2.5, -0.01, 1e-3};
  Adam adam({.learning_rate = lr, .epsilon = eps}, g.size());
  std::vector<double> theta(g.size(), 1.0);
  for (int k = 1; k <= 3; ++k) {
    adam.step(theta, g);
    std::vector<double> want(g.size());
    for (std::size_t i = 0; i < g.size(); ++i) want[i] = 1.0 - k * lr * g[i] / (std::fabs(g[i]) + eps);
    expect_near_all(theta, want);
  }
  // The raw moments, exposed for checkpoints: m_3 = (1 - 0.9^3) g, v_3 = (1 - 0.999^3) g^2.
  for (std::size_t i = 0; i < g.size(); ++i) {
    EXPECT_NEAR(adam.first_moment[i], (1.0 - std::pow(0.9, 3)) * g[i], kRoundOff * std::fabs(g[i]));
    EXPECT_NEAR(adam.second_moment[i], (1.0 - std::pow(0.999, 3)) * g[i] * g[i], kRoundOff * g[i] * g[i]);
  }
}

TEST(Sgd, PlainStepIsLearningRateTimesGradient) {
  Sgd sgd({.learning_rate = 0.1}, kStart.size());
  std::vector<double> theta = kStart, want = kStart;
  for (const auto& g : kGradients) {
    sgd.step(theta, g);
    for (std::size_t i = 0; i < g.size(); ++i) want[i] -= 0.1 * g[i];
    expect_near_all(theta, want);
  }
}

TEST(Sgd, MomentumMatchesDecimalReferenceForThreeSteps) {
  const std::vector<std::vector<double>> want{{0.48999999999999999, -0.97999999999999998, 1.7, 0.0},
                                              {0.51500000000000001, -1.01, 1.25, 0.0},
                                              {0.50749999999999995, -1.0149999999999999, 0.72499999999999998, -1e-4}};
  Sgd sgd({.learning_rate = 0.1, .momentum = 0.5}, kStart.size());
  std::vector<double> theta = kStart;
  for (std::size_t k = 0; k < kGradients.size(); ++k) {
    sgd.step(theta, kGradients[k]);
    SCOPED_TRACE(k + 1);
    expect_near_all(theta, want[k]);
  }
  // Entry 2 (constant g = 3): v_3 = g (1 - mu^3) / (1 - mu) = 3 x 1.75.
  EXPECT_NEAR(sgd.velocity[2], 5.25, kRoundOff * 5.25);
}

TEST(Optimizer, VariantDispatchesToTheChosenOne) {
  Optimizer optimizer = Adam({.learning_rate = 0.01}, 1);
  std::vector<double> theta{0.0};
  const std::vector<double> g{4.0};
  step(optimizer, theta, g);
  // Adam's first step moves by lr g / (|g| + eps), i.e. by ~lr whatever |g|.
  EXPECT_NEAR(theta[0], -0.01 * 4.0 / (4.0 + 1e-8), kRoundOff);
}

// A NaN or infinite gradient entry is refused by name, and nothing changes.
TEST(Optimizer, NonFiniteGradientThrowsAndLeavesStateUntouched) {
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    Adam adam({}, 3);
    Sgd sgd({.learning_rate = 0.1, .momentum = 0.9}, 3);
    std::vector<double> theta{1.0, 2.0, 3.0};
    const std::vector<double> good{0.1, 0.2, 0.3}, with_bad{0.1, bad, 0.3};
    adam.step(theta, good);
    sgd.step(theta, good);
    const std::vector<double> theta_before = theta, m = adam.first_moment, v = adam.second_moment,
                              velocity = sgd.velocity;
    const std::string adam_message = test::error_message([&] { adam.step(theta, with_bad); });
    const std::string sgd_message = test::error_message([&] { sgd.step(theta, with_bad); });
    EXPECT_TRUE(test::contains_all(adam_message, {"adam", "gradient[1]"}));
    EXPECT_TRUE(test::contains_all(sgd_message, {"sgd", "gradient[1]"}));
    EXPECT_THROW(adam.step(theta, with_bad), NumericalError);
    EXPECT_EQ(theta, theta_before);
    EXPECT_EQ(adam.first_moment, m);
    EXPECT_EQ(adam.second_moment, v);
    EXPECT_EQ(adam.steps, 1);
    EXPECT_EQ(sgd.velocity, velocity);
    EXPECT_EQ(sgd.steps, 1);
  }
}

// A finite gradient whose square overflows would leave v = inf for good.
TEST(Adam, OverflowingSecondMomentThrows) {
  Adam adam({}, 1);
  std::vector<double> theta{0.0};
  const std::vector<double> huge{1e200};
  EXPECT_THROW(adam.step(theta, huge), NumericalError);
  EXPECT_EQ(theta[0], 0.0);
  EXPECT_EQ(adam.steps, 0);
}

TEST(Optimizer, BadHyperParametersNameTheField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(test::contains_all(test::input_error_message([] { Sgd({.learning_rate = 0.0}, 1); }),
                                 {"learning_rate", "0"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { Sgd({.learning_rate = nan}, 1); }),
                                 {"learning_rate", "nan"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([] { Sgd({.momentum = 1.0}, 1); }), {"momentum", "1"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([] { Sgd({.momentum = -0.1}, 1); }), {"momentum"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([] { Adam({.learning_rate = -1.0}, 1); }),
                                 {"learning_rate"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([] { Adam({.beta1 = 1.0}, 1); }), {"beta1"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { Adam({.beta2 = nan}, 1); }), {"beta2", "nan"}));
  EXPECT_TRUE(test::contains_all(test::input_error_message([] { Adam({.epsilon = 0.0}, 1); }), {"epsilon"}));
}

TEST(Optimizer, SizeMismatchIsAnInputError) {
  Adam adam({}, 2);
  std::vector<double> theta{0.0, 0.0};
  const std::vector<double> short_gradient{1.0};
  EXPECT_TRUE(test::contains_all(test::input_error_message([&] { adam.step(theta, short_gradient); }),
                                 {"adam", "expected 2"}));
}

}  // namespace
}  // namespace disa::train
