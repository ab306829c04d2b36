// The error type for bad user input (arguments, files, parameters).
//
// Its message names the offending field and value; the CLI prints it on one line
// and exits with code 2. Everything else that throws is an internal failure (exit 1).
#pragma once

#include <stdexcept>
#include <string>

namespace disa {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace disa
