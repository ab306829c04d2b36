#include "src/json_strict.h"

#include <cstddef>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "src/input_error.h"

namespace disa {
namespace {

// Thrown out of the counting pass's callback; never leaves this file.
struct KeyRepeated {};

// How much of a key or value an error message shows (json_strict.h: json_excerpt).
constexpr std::size_t kShownBytes = 80;

// A container opening at `depth` (the number of containers around it) must stay within
// kMaxJsonDepth levels; checked on each object_start and array_start of both passes.
void check_depth(int depth, const std::string& source) {
  if (depth >= kMaxJsonDepth) {
    throw InputError(fmt::format(
        "{}: arrays and objects nested more than {} levels deep (the limit of every JSON reader here)", source,
        kMaxJsonDepth));
  }
}

template <class Json>
std::string excerpt_of(const Json& value) {
  const std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() <= kShownBytes) return text;
  // Cut before a UTF-8 continuation byte, never inside a character.
  std::size_t end = kShownBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return fmt::format("{}... ({} bytes)", text.substr(0, end), text.size());
}

// One RFC 6901 reference token: "~" as "~0", "/" as "~1".
std::string pointer_token(const std::string& key) {
  std::string token;
  for (char c : key) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return text_excerpt(token);
}

// The slow pass, run only once the fast one has seen a repeat: every object's keys in a
// set, and where the parser is (member key or array index per open container), so the
// message can name the key and its JSON pointer.
template <class Json>
[[noreturn]] void name_the_repeat(std::string_view text, const std::string& source) {
  struct Open {
    bool object = false;
    std::unordered_set<std::string> keys;
    std::string key;        // objects: the member being parsed
    std::size_t index = 0;  // arrays: the element being parsed
  };
  std::vector<Open> open;
  const auto element_done = [&] {
    if (!open.empty() && !open.back().object) ++open.back().index;
  };
  auto callback = [&](int depth, typename Json::parse_event_t event, Json& parsed) {
    using E = typename Json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        check_depth(depth, source);
        open.emplace_back().object = event == E::object_start;
        break;
      case E::key: {
        const auto& key = parsed.template get_ref<const std::string&>();
        open.back().key = key;
        if (!open.back().keys.insert(key).second) {
          std::string pointer;
          for (const Open& o : open) {
            pointer += '/';
            pointer += o.object ? pointer_token(o.key) : std::to_string(o.index);
          }
          throw InputError(
              fmt::format("{}: {}: key \"{}\" is given twice in one object", source, pointer, text_excerpt(key)));
        }
        break;
      }
      case E::object_end:
      case E::array_end:
        open.pop_back();
        element_done();
        break;
      case E::value:
        element_done();
        break;
    }
    return true;
  };
  [[maybe_unused]] const Json unused = Json::parse(text.begin(), text.end(), callback);
  // The fast pass counted fewer members than keys, so a repeat exists; unreachable.
  throw InputError(fmt::format("{}: a key is given twice in one object", source));
}

template <class Json>
Json parse_strict(std::string_view text, const std::string& source) {
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    throw InputError(fmt::format("{}: not valid JSON: a NUL byte at offset {}", source, nul));
  }
  // The fast pass counts each object's keys and compares the count with the members the
  // finished object holds: fewer members means a key came twice. A set of every key would
  // double the time of a 11 MB tokenizer.json (its vocabulary is one object of 151k
  // keys); counting costs next to nothing. Only a refused input pays for the second pass
  // that finds which key it was.
  std::vector<std::size_t> keys_seen;
  auto callback = [&](int depth, typename Json::parse_event_t event, Json& parsed) {
    using E = typename Json::parse_event_t;
    switch (event) {
      case E::object_start:
        check_depth(depth, source);
        keys_seen.push_back(0);
        break;
      case E::array_start:
        check_depth(depth, source);
        break;
      case E::key:
        ++keys_seen.back();
        break;
      case E::object_end:
        if (keys_seen.back() != parsed.size()) throw KeyRepeated{};
        keys_seen.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const KeyRepeated&) {
    name_the_repeat<Json>(text, source);
  }
}

}  // namespace

std::string text_excerpt(std::string_view text) {
  const std::string shown(text.substr(0, kShownBytes));
  std::string quoted = nlohmann::json(shown).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  quoted = quoted.substr(1, quoted.size() - 2);
  if (text.size() > kShownBytes) quoted += fmt::format("... ({} bytes)", text.size());
  return quoted;
}

std::string json_excerpt(const nlohmann::json& value) { return excerpt_of(value); }
std::string json_excerpt(const nlohmann::ordered_json& value) { return excerpt_of(value); }

std::size_t invalid_utf8_offset(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
    if (b < 0x80) {
      length = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      if (b == 0xE0) low = 0xA0;   // overlong
      if (b == 0xED) high = 0x9F;  // UTF-16 surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      if (b == 0xF0) low = 0x90;   // overlong
      if (b == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char c = byte(i + k);
      if (k == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

nlohmann::json parse_json_strict(std::string_view text, const std::string& source) {
  return parse_strict<nlohmann::json>(text, source);
}

nlohmann::ordered_json parse_ordered_json_strict(std::string_view text, const std::string& source) {
  return parse_strict<nlohmann::ordered_json>(text, source);
}

nlohmann::json parse_json_strict(std::istream& in, const std::string& source) {
  // Whole blocks, not istreambuf_iterator's byte at a time (15 ms of an 11 MB tokenizer.json).
  std::string text;
  char block[1 << 16];
  while (in.read(block, sizeof block) || in.gcount() > 0) text.append(block, static_cast<std::size_t>(in.gcount()));
  return parse_strict<nlohmann::json>(text, source);
}

}  // namespace disa
