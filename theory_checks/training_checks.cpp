#include "theory_checks/training_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "src/atomic_file.h"
#include "src/input_error.h"

namespace disa::theory {

const std::vector<CheckEntry>& training_checks() {
  static const std::vector<CheckEntry> checks = {
      {"check_09_envelope", check_09_envelope},
      {"check_11_coupled_log_z", check_11_coupled_log_z},
      {"check_12_paced", check_12_paced},
      {"check_13_collapse", check_13_collapse},
      {"check_14_disa_sensitivity", check_14_disa_sensitivity},
  };
  return checks;
}

namespace {
// Curves keep 7 significant digits (the table keeps round-trip values).
std::string curve_num(double x) { return std::isfinite(x) ? fmt::format("{:.7g}", x) : num(x); }
}  // namespace

bool record_step(std::int64_t step, std::int64_t total) {
  const std::int64_t every = std::max<std::int64_t>(1, total / 300);
  return step <= 50 || step % every == 0 || step == total;
}

void CurveTable::write(const std::string& dir, const std::string& name) const {
  std::filesystem::create_directories(dir);
  const std::string path = (std::filesystem::path(dir) / (name + "_curves.csv")).string();
  write_file_atomically(path, [&](std::ostream& out) {
    out << "run,group,tree,seed,step,loss,grad_norm,kl_policy_target,kl_target_policy,accuracy,expected_reward,"
           "entropy,strategy_entropy,strategies_above,log_z_error";
    for (const std::string& e : extra_) out << ',' << e;
    out << '\n';
    for (const Run& r : runs_) {
      for (const Point& p : r.points) {
        const train::StepMetrics& m = p.metrics;
        out << r.run << ',' << r.group << ',' << r.tree << ',' << r.seed << ',' << m.step;
        for (double v : {m.loss, m.grad_norm, m.kl_policy_target, m.kl_target_policy, m.accuracy, m.expected_reward,
                         m.entropy, m.strategy_entropy, m.strategies_above, m.log_z_error}) {
          out << ',' << curve_num(v);
        }
        for (double v : p.extra) out << ',' << curve_num(v);
        out << '\n';
      }
    }
  });
}

Row report_row(const std::string& quantity, const std::string& tree, double beta, const std::string& label,
               std::int64_t steps, std::int64_t seeds, double exact, double measured, double se,
               const std::string& note) {
  Row r;
  r.quantity = quantity;
  r.tree = tree;
  r.beta = beta;
  r.proposal = label;
  r.n = steps;
  r.replicates = seeds;
  r.kind = RowKind::kPrediction;
  r.exact = exact;
  r.measured = measured;
  r.se = se;
  r.note = note;
  r.counted = false;
  r.verdict = "measured";
  return r;
}

Row finding_row(const std::string& quantity, const std::string& tree, double beta, const std::string& label,
                std::int64_t steps, std::int64_t seeds, double exact, double measured, const std::string& verdict,
                const std::string& note) {
  Row r = report_row(quantity, tree, beta, label, steps, seeds, exact, measured, 0.0, note);
  r.finding = true;
  r.first_order_accurate = false;
  r.verdict = verdict;
  return r;
}

double sign_test_p(int wins, int losses) {
  const int n = wins + losses;
  double p = 0.0;
  for (int k = wins; k <= n; ++k) {
    p += std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) - n * std::log(2.0));
  }
  return std::min(p, 1.0);
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  for (std::size_t i = 0; i < m; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(m);
  double running = 0.0;  // the step-down max keeps the adjusted values in the raw values' order
  for (std::size_t j = 0; j < m; ++j) {
    running = std::max(running, std::min(1.0, double(m - j) * p[order[j]]));
    adjusted[order[j]] = running;
  }
  return adjusted;
}

std::string better_verdict(double ratio_of_means, int wins, int losses, double p_raw, double p_adjusted,
                           std::size_t family, double level) {
  const std::string test =
      fmt::format("sign test {}-{}, one-sided p = {:.3g}, Holm-adjusted over {} comparisons {:.3g}", wins, losses,
                  p_raw, family, p_adjusted);
  if (!(ratio_of_means < 1)) return "NOT better (" + test + ")";
  if (p_adjusted <= level) return fmt::format("BETTER ({} <= {})", test, level);
  return fmt::format("NOT DISTINGUISHABLE ({} > {})", test, level);
}

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  if (values.empty()) return s;
  double sum = 0;
  s.min = s.max = values[0];
  for (double v : values) {
    sum += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  const double n = double(values.size());
  s.mean = sum / n;
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - s.mean) * (v - s.mean);
    s.se = std::sqrt(ss / (n - 1) / n);
  }
  return s;
}

double envelope_k(const std::vector<double>& target_leaf, const std::vector<double>& q_leaf) {
  double m1 = 0, m2 = 0;
  for (std::size_t y = 0; y < q_leaf.size(); ++y) {
    const double p = std::exp(target_leaf[y]), w = std::exp(target_leaf[y] - q_leaf[y]);
    m1 += p * w;
    m2 += p * w * w;
  }
  return (m2 - m1 * m1) / (2 * m1 * m1);
}

std::string Spread::text() const {
  if (min == max) return short_num(mean, 4);
  return fmt::format("{} [{}, {}]", short_num(mean, 4), short_num(min, 3), short_num(max, 3));
}

int training_check_program_main(const std::string& name, int argc, char** argv) {
  const CheckProgramText text{"a training study on exact trees", "results/training_checks",
                              "Output folder for <name>.csv, .json and _curves.csv",
                              "Fewer steps, seeds and grid points: a smoke run of a few seconds",
                              "First training seed (sampled methods use seed, seed+1, ...)"};
  return run_check_program(training_checks(), text, name, argc, argv);
}

}  // namespace disa::theory
