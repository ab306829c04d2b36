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
void add_llm_command(CLI::App& app);        // disa llm (registers the ones below)
void add_llm_tokenize_command(CLI::App& llm);  // disa llm tokenize (no LibTorch needed)
void add_llm_verify_command(CLI::App& llm);    // disa llm verify (math rewards; no LibTorch)
#ifdef DISA_HAVE_TORCH
void add_llm_model_commands(CLI::App& llm);    // disa llm init|sample|score (LibTorch)
void add_llm_pretrain_command(CLI::App& llm);  // disa llm pretrain (the in-house model; LibTorch)
void add_llm_pipeline_commands(CLI::App& llm);  // disa llm propose|anchor|train|eval|pipeline (LibTorch)
#endif

// The exit code a command asks for after a successful parse (0 unless set; e.g.
// `check` sets 1 when an exact-statement row fails). main() returns it.
int& command_exit_code();

}  // namespace disa::cli
