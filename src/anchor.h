// The anchor file: one frozen log Zhat record per prompt, the input DISA trains
// against (here and in the LLM pipeline).
//
// JSONL, one object per line, written atomically:
//   {"prompt":"p0","log_Zhat":1.23,"n":256,"ess":101.5,"chi2_hat":1.52,"k_hat":0.31,
//    "ci_low":1.1,"ci_high":1.4,"ci_method":"delta","log_Zhat_psis":1.22,"max_weight":0.04,
//    "proposal":"tilted:lambda=0.5","beta":2,"seed":1,"flags":[]}
// Non-finite numbers, which JSON cannot hold, are written as strings ("-inf", "nan").
// Loading validates every field and names the line and field of the first problem (a key
// not listed above, a beta that is not finite and > 0, and ci_low > ci_high are refused);
// a prompt may have one anchor only (a second is refused, naming both lines).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/is_estimator.h"

namespace disa {

struct AnchorRecord {
  std::string prompt;
  double log_z_hat = 0.0;
  std::int64_t n = 0;
  double ess = 0.0;
  double chi2_hat = 0.0;
  double k_hat = 0.0;
  double ci_low = 0.0, ci_high = 0.0;
  std::string ci_method;
  double log_z_psis = 0.0;
  double max_weight = 0.0;
  std::string proposal;
  double beta = 0.0;
  std::uint64_t seed = 0;
  std::vector<std::string> flags;
};

AnchorRecord make_anchor(const std::string& prompt, const IsEstimate& estimate, const std::string& proposal,
                         double beta, std::uint64_t seed);

void save_anchors(const std::vector<AnchorRecord>& anchors, const std::string& path);
std::vector<AnchorRecord> load_anchors(const std::string& path);
std::vector<AnchorRecord> parse_anchors(const std::string& text, const std::string& source);

}  // namespace disa
