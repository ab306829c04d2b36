// The `disa` subcommands. Each add_* registers its options on the parent app and
// returns; the work runs in the callback after a successful parse.
#pragma once

#include <CLI/CLI.hpp>

namespace disa::cli {

void add_tree_commands(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_check_command(CLI::App& app);      // disa check estimator
void add_estimate_command(CLI::App& app);   // disa estimate
void add_anchor_command(CLI::App& app);     // disa anchor
void add_loss_command(CLI::App& app);       // disa loss
void add_train_command(CLI::App& app);      // disa train

// The exit code a command asks for after a successful parse (0 unless set; e.g.
// `check` sets 1 when an exact-statement row fails). main() returns it.
int& command_exit_code();

}  // namespace disa::cli
