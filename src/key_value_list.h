// Repeatable KEY=VALUE options (`--set`, `--family-set`, a loss head's options): one
// parser, so that every such list refuses a repeated key the same way. Taking the last
// of `--set beta=3 --set beta=50` silently would run with a value the user may not
// have meant (a command line assembled from a script's defaults plus an override).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace disa {

// Each entry "key=value" (the value may be empty or hold '='). InputError
//   "<what>: option '<entry>' is not key=value"  for an entry without '=' or with an empty key,
//   "<what>: option '<key>' is given twice"      for a repeated key.
std::map<std::string, std::string> parse_key_values(std::string_view what, const std::vector<std::string>& entries);

// `defaults` with each entry of `overrides` in place of the default of the same key (appended
// where there is none), in order: a user's option replaces a program's default instead of
// repeating its key, which parse_key_values would refuse. A key repeated within `overrides`
// stays repeated (refused later, as the user's own mistake).
std::vector<std::string> override_key_values(std::vector<std::string> defaults,
                                             const std::vector<std::string>& overrides);

}  // namespace disa
