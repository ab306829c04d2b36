#include "src/loss/diagnostics_merge.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace disa::loss {
namespace {

// Every scalar diagnostic the heads emit (src/loss/*.cpp), with its rule.
constexpr std::array<std::pair<std::string_view, DiagnosticRule>, 11> kRules{{
    {"pg_loss", DiagnosticRule::loss_share},
    {"kl_loss", DiagnosticRule::loss_share},
    {"kl", DiagnosticRule::loss_share},
    {"pg_clipfrac", DiagnosticRule::token_share},
    {"pg_clipfrac_lower", DiagnosticRule::token_share},
    {"ppo_kl", DiagnosticRule::token_share},
    {"dropped_token_fraction", DiagnosticRule::token_share},
    {"residual_rms", DiagnosticRule::row_rms},
    {"kept_sequences", DiagnosticRule::sum},
    {"kept_tokens", DiagnosticRule::sum},
    {"weight_max", DiagnosticRule::max},
}};

std::size_t index_of(std::string_view name) {
  for (std::size_t k = 0; k < kRules.size(); ++k) {
    if (kRules[k].first == name) return k;
  }
  throw std::logic_error(fmt::format("diagnostic '{}' has no merge rule (src/loss/diagnostics_merge.cpp)", name));
}

}  // namespace

DiagnosticRule diagnostic_rule(std::string_view name) { return kRules[index_of(name)].second; }

DiagnosticsMerge::DiagnosticsMerge() : entries_(kRules.size()) {
  for (std::size_t k = 0; k < kRules.size(); ++k) {
    if (kRules[k].second == DiagnosticRule::max) entries_[k].value = -std::numeric_limits<double>::infinity();
  }
}

void DiagnosticsMerge::add(const std::map<std::string, double>& scalars, const MicroBatchShares& shares) {
  for (const auto& [name, v] : scalars) {
    const std::size_t k = index_of(name);
    Entry& e = entries_[k];
    e.present += 1;
    switch (kRules[k].second) {
      case DiagnosticRule::loss_share:
        e.value += v * shares.loss;
        break;
      case DiagnosticRule::token_share:
        e.value += v * shares.tokens;
        break;
      case DiagnosticRule::row_rms:
        e.value += v * v * shares.rows;
        break;
      case DiagnosticRule::sum:
        e.value += v;
        break;
      case DiagnosticRule::max:
        e.value = std::max(e.value, v);
        break;
    }
  }
}

std::vector<double> DiagnosticsMerge::sums() const {
  std::vector<double> out;
  for (std::size_t k = 0; k < kRules.size(); ++k) {
    if (kRules[k].second != DiagnosticRule::max) out.push_back(entries_[k].value);
    out.push_back(entries_[k].present);
  }
  return out;
}

std::vector<double> DiagnosticsMerge::maxima() const {
  std::vector<double> out;
  for (std::size_t k = 0; k < kRules.size(); ++k) {
    if (kRules[k].second == DiagnosticRule::max) out.push_back(entries_[k].value);
  }
  return out;
}

void DiagnosticsMerge::set_reduced(const std::vector<double>& sums, const std::vector<double>& maxima) {
  if (sums.size() != this->sums().size() || maxima.size() != this->maxima().size()) {
    throw std::logic_error("DiagnosticsMerge::set_reduced: vectors not laid out as sums() / maxima()");
  }
  std::size_t s = 0, m = 0;
  for (std::size_t k = 0; k < kRules.size(); ++k) {
    entries_[k].value = kRules[k].second == DiagnosticRule::max ? maxima[m++] : sums[s++];
    entries_[k].present = sums[s++];
  }
}

std::map<std::string, double> DiagnosticsMerge::result() const {
  std::map<std::string, double> out;
  for (std::size_t k = 0; k < kRules.size(); ++k) {
    const Entry& e = entries_[k];
    if (e.present == 0) continue;
    out[std::string(kRules[k].first)] = kRules[k].second == DiagnosticRule::row_rms ? std::sqrt(e.value) : e.value;
  }
  return out;
}

}  // namespace disa::loss
