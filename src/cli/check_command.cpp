// disa check estimator: the theory checks of the importance-sampled log Zhat
// (THEORY.md items 1-5, 7; theory_checks/estimator_checks.h), all in one run.
// disa check training: the training studies (items 9-13; theory_checks/training_checks.h).
// Prints each check's table and an overall line, writes CSV/JSON per check into
// --out; exit code 0 iff every exact-statement row passes (1 otherwise).
#include <memory>

#include "src/cli/commands.h"
#include "theory_checks/estimator_checks.h"
#include "theory_checks/training_checks.h"

namespace disa::cli {

int& command_exit_code() {
  static int code = 0;
  return code;
}

void add_check_command(CLI::App& app) {
  CLI::App* check = app.add_subcommand("check", "Theory checks against exact trees (one table per THEORY.md statement)");
  check->require_subcommand(1);
  auto options = std::make_shared<theory::CheckOptions>();
  CLI::App* estimator = check->add_subcommand(
      "estimator", "Check the importance-sampled log Zhat: unbiasedness, relative variance, log-space bias and "
                   "variance, ESS, chi2 bounds, sensitivity over lambda, beta and horizon (THEORY.md items 1-7)");
  estimator->add_option("--out", options->out_dir, "Output folder for the CSV and JSON files")->capture_default_str();
  estimator->add_flag("--quick", options->quick, "1/8 of the samples: a smoke run with CIs about 3x wider");
  estimator->add_option("--seed", options->seed, "Sampling seed (each row derives its own)")->capture_default_str();
  estimator->callback([options] {
    if (!theory::run_estimator_checks(*options)) command_exit_code() = 1;
  });

  auto training_options = std::make_shared<theory::CheckOptions>();
  training_options->out_dir = "results/training_checks";
  CLI::App* training = check->add_subcommand(
      "training", "Training studies on exact trees: the perturbation envelope of a wrong frozen log Z, FlowRL's "
                  "coupled log Z_phi, PACED prompt selection, reward-maximisation collapse (THEORY.md items 9-13)");
  training->add_option("--out", training_options->out_dir, "Output folder for the CSV and JSON files")
      ->capture_default_str();
  training->add_flag("--quick", training_options->quick, "Fewer steps and seeds: a smoke run of a few seconds");
  training->add_option("--seed", training_options->seed, "Training seed (runs derive their own)")
      ->capture_default_str();
  training->callback([training_options] {
    if (!theory::run_checks(theory::training_checks(), *training_options, "measured statements about training")) {
      command_exit_code() = 1;
    }
  });
}

}  // namespace disa::cli
