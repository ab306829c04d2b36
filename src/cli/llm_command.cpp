// disa llm: the language-model pipeline's commands. `tokenize` and `verify` need no
// LibTorch; the model commands are registered only in a build with Torch (DISA_HAVE_TORCH).
#include "src/cli/commands.h"

namespace disa::cli {

void add_llm_command(CLI::App& app) {
  CLI::App* llm = app.add_subcommand("llm", "Language-model pipeline: tokenizer, model, sampler");
  llm->require_subcommand(1);
  add_llm_tokenize_command(*llm);
  add_llm_verify_command(*llm);
#ifdef DISA_HAVE_TORCH
  add_llm_model_commands(*llm);
  add_llm_pretrain_command(*llm);
  add_llm_pipeline_commands(*llm);
#endif
}

}  // namespace disa::cli
