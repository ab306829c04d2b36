// The error type for a computation whose result would be NaN or infinite (an
// importance weight that overflows, a loss that is not finite). It names the quantity
// and where it happened; nothing non-finite is returned silently. The CLI exits 1.
#pragma once

#include <stdexcept>

namespace disa {

class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace disa
