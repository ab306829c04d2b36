// The JSON form of a loss batch and of a head's result (`disa loss`; docs/loss.md).
//
// Batch: {"logp":[[...]], "logp_old":[[...]], "logp_ref":[[...]], "mask":[[...]],
//         "reward":[...], "group":[...], "log_z":[...], "advantages":[[...]] or [...]}
// rows = sequences, padded to one length T. Fields may be absent (or null); an objective
// that needs one rejects the batch naming it. Numbers may be the strings "nan", "inf",
// "-inf" (src/json_number.h) so padding can hold them. Ragged rows, a non-number, a mask
// entry other than 0/1, a non-integer group id, a field whose row count differs from the
// others, or an unknown top-level key are InputErrors naming the JSON path, e.g.
// "logp[3]: row has 7 entries, expected 9". Unknown keys are rejected because a typo
// ("log_p") would otherwise leave a field silently empty.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "src/loss/loss_batch.h"
#include "src/loss/loss_result.h"
#include "src/loss/objective.h"

namespace disa::loss {

// `extra_keys`: top-level keys the caller reads itself (e.g. the golden files' "loss_mat");
// they are accepted and skipped instead of rejected.
BatchData<double> batch_from_json(const nlohmann::json& document, const std::vector<std::string>& extra_keys = {});
BatchData<double> load_batch(const std::string& path);  // InputError naming the path if unreadable

// {"objective":..., "options":{...}, "loss":x, "grad_logp":[[...]], "grad_log_z":[...],
//  <per-sequence diagnostics>:[...], <scalar diagnostics>:x}, in that order (ordered_json
// converts implicitly to nlohmann::json). Options are their text as option_list gives it,
// so each reads back through --set key=value.
nlohmann::ordered_json result_to_json(const Objective& objective, const LossBatch<double>& batch,
                                      const LossResult<double>& result);

}  // namespace disa::loss
