// key=value options of a loss head (`disa loss --set key=value`, the LibTorch adapter,
// the trainers). Every key is read through one of the typed getters; finish() rejects
// keys no getter asked for, naming them and listing the keys the objective knows.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace disa::loss {

class Settings {
 public:
  // Each entry "key=value"; a malformed entry or a repeated key is an InputError.
  static Settings parse(std::string_view objective, const std::vector<std::string>& entries);
  Settings(std::string objective, std::map<std::string, std::string> values);

  // Getters return the value under `key` (or the first alias present), else `fallback`.
  // A value that does not parse is an InputError "<objective>: <key>=<value>: <why>".
  double number(std::string_view key, double fallback, std::initializer_list<std::string_view> aliases = {});
  // number() restricted to an interval (high = infinity for none); a value outside is an
  // InputError stating the interval, e.g. "grpo: clip_ratio_low=1.5: must be in [0, 1)".
  double number_in(std::string_view key, double fallback, double low, double high, bool low_open = false,
                   bool high_open = true);
  // A whole number in [low, high], parsed as an integer (std::from_chars), not through a
  // double, so that a seed of 2^53 + 1 stays itself and 8999999999999999.5 is refused
  // (strtod rounds it to a whole number). A whole number written with a point or an
  // exponent (16.0, 1e3: what a tool writing a config file may give) is that integer,
  // decided on its digits. Anything else is an InputError stating the range:
  // "train: seed=-1: must be an integer in [0, 9223372036854775807]".
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t low,
                       std::int64_t high = std::numeric_limits<std::int64_t>::max());
  bool flag(std::string_view key, bool fallback, std::initializer_list<std::string_view> aliases = {});
  std::string word(std::string_view key, std::string_view fallback,
                   std::initializer_list<std::string_view> aliases = {});

  // Whether `key` itself was given. Reads nothing: for an option whose fallback depends on
  // another's presence (verl's clip_ratio, read_clip_ratios in grpo.h) or that only some
  // modes read (flowrl's bounds); the getter must still read it.
  bool has(std::string_view key) const { return values_.count(std::string(key)) != 0; }
  // Throws an InputError when a key was given that no getter read.
  void finish() const;
  // The name `key`'s value was given under (the first alias present), else `key`: for
  // messages about a value checked after reading ("grpo: kl_loss_coef=-1: ...").
  std::string given_key(std::string_view key, std::initializer_list<std::string_view> aliases = {}) const;
  const std::string& objective() const { return objective_; }

  // For error messages from option checks after parsing: "<objective>: <key>=<value>: <why>".
  [[noreturn]] void reject(std::string_view key, std::string_view value, std::string_view why) const;

 private:
  const std::string* find(std::string_view key, std::initializer_list<std::string_view> aliases, std::string* used_key);
  std::string objective_;
  std::map<std::string, std::string> values_;
  std::set<std::string> known_;
  std::set<std::string> read_;
};

// Resolved options as key/value text, for `disa loss` output and logs.
inline constexpr double kNoBound = std::numeric_limits<double>::infinity();

using OptionList = std::vector<std::pair<std::string, std::string>>;

}  // namespace disa::loss
