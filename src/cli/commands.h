// The `disa` subcommands. Each add_* registers its options on the parent app and
// returns; the work runs in the callback after a successful parse.
#pragma once

#include <CLI/CLI.hpp>

namespace disa::cli {

void add_tree_commands(CLI::App& app);
void add_demo_command(CLI::App& app);

}  // namespace disa::cli
