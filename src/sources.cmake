# The sources of the libraries that two builds compile: the top-level CMakeLists.txt and
# the GPU machine's standalone build (kernels/standalone/CMakeLists.txt) both include this
# file, so a source added here reaches both. A second list kept by hand in the standalone
# build missed src/key_value_list.cpp once, and the GPU build failed to link; the dry run
# (scripts/gpu_check.sh --dry-run, a test) builds the standalone one as the GPU machine
# will. Headers they need beyond the standard library: fmt, nlohmann-json, Boost.Math
# (src/is_estimator.cpp) and OpenMP; scripts/gpu_check.sh --pack copies the first three.
set(DISA_COMMON_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/anchor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/atomic_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/counter_rng.cpp
  ${CMAKE_CURRENT_LIST_DIR}/is_estimator.cpp
  ${CMAKE_CURRENT_LIST_DIR}/input_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/output_folder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_strict.cpp
  ${CMAKE_CURRENT_LIST_DIR}/key_value_list.cpp
)

# Loss heads: one definition of every objective over flat padded batches (src/loss/).
set(DISA_LOSS_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/loss/aggregation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/batch_json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/diagnostics_merge.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/flowrl.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/grpo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/grpo_advantage.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/gspo.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/kl_loss.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/loss_batch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/objective.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/settings.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/sft.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss/trajectory_balance.cpp
)
