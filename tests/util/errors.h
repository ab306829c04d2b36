// Helpers for asserting on error messages: run a callable, capture the message
// of the exception it throws, and check that it contains given substrings.
#pragma once

#include <exception>
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

#include "src/input_error.h"

namespace disa::test {

// The message of the InputError that f() throws; a marker if it throws none (or
// another type, whose message is included).
template <class F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not an InputError: ") + e.what() + ">";
  }
  return "<no exception thrown>";
}

// Same, for any std::exception (e.g. the std::runtime_error of leaf_log_probs).
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception thrown>";
}

inline ::testing::AssertionResult contains_all(const std::string& message,
                                               std::initializer_list<std::string> parts) {
  for (const std::string& p : parts) {
    if (message.find(p) == std::string::npos) {
      return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << p << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace disa::test
