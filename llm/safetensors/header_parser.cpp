// A SAX state machine over the header's JSON. The grammar accepted is exactly
//   { NAME: {"dtype": STR, "shape": [UINT...], "data_offsets": [UINT, UINT]}, ...,
//     "__metadata__": {STR: STR, ...} }
// so anything else is rejected at the event where it first appears, with a message
// naming where it happened. Memory use is bounded by the header's length.
#include "llm/safetensors/header_parser.h"

#include <limits>
#include <optional>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llm/safetensors/message_quote.h"
#include "src/input_error.h"

namespace disa::llm {
namespace {

using nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";

std::string supported_dtypes() {
  std::string out;
  for (Dtype d : kAllDtypes) {
    if (!out.empty()) out += ", ";
    out += dtype_name(d);
  }
  return out;
}

class HeaderHandler final : public nlohmann::json_sax<json> {
 public:
  explicit HeaderHandler(const std::string& source) : source_(source) {}

  ParsedHeader take() { return std::move(result_); }
  bool finished() const { return state_ == State::kDone; }

  bool null() override { return unexpected("null"); }
  bool boolean(bool v) override { return unexpected(v ? "true" : "false"); }
  bool binary(binary_t&) override { return unexpected("binary data"); }

  bool number_unsigned(number_unsigned_t v) override {
    if (state_ == State::kShape) {
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(fmt::format("{}shape[{}] = {} is too large", where(), entry_.shape.size(), v));
      }
      entry_.shape.push_back(static_cast<std::int64_t>(v));
      return true;
    }
    if (state_ == State::kOffsets) {
      if (offsets_seen_ >= 2) {
        fail(fmt::format("{}data_offsets has more than two entries", where()));
      }
      (offsets_seen_ == 0 ? entry_.begin : entry_.end) = v;
      ++offsets_seen_;
      return true;
    }
    return unexpected(fmt::format("the number {}", v));
  }

  bool number_integer(number_integer_t v) override {
    if (v >= 0) return number_unsigned(static_cast<number_unsigned_t>(v));  // "-0"
    if (state_ == State::kShape) {
      fail(fmt::format("{}shape[{}] = {} is negative", where(), entry_.shape.size(), v));
    }
    if (state_ == State::kOffsets) {
      fail(fmt::format("{}data_offsets[{}] = {} is negative", where(), offsets_seen_, v));
    }
    return unexpected(fmt::format("the number {}", v));
  }

  bool number_float(number_float_t, const string_t& text) override {
    if (state_ == State::kShape) {
      fail(fmt::format("{}shape[{}] = {} is not a non-negative integer", where(),
                       entry_.shape.size(), quote_for_message(text, 40)));
    }
    if (state_ == State::kOffsets) {
      fail(fmt::format("{}data_offsets[{}] = {} is not a non-negative integer", where(),
                       offsets_seen_, quote_for_message(text, 40)));
    }
    return unexpected("the number " + quote_for_message(text, 40));
  }

  bool string(string_t& value) override {
    if (state_ == State::kMetadataValue) {
      result_.metadata.emplace(std::move(key_), std::move(value));
      state_ = State::kMetadataKey;
      return true;
    }
    if (state_ == State::kTensorValue && field_ == Field::kDtype) {
      std::optional<Dtype> dtype = dtype_from_name(value);
      if (!dtype) {
        fail(fmt::format("{}unknown dtype {} (supported: {})", where(), quote_for_message(value, 20),
                         supported_dtypes()));
      }
      entry_.dtype = *dtype;
      state_ = State::kTensorKey;
      return true;
    }
    return unexpected("a string");
  }

  bool start_object(std::size_t) override {
    switch (state_) {
      case State::kStart:
        state_ = State::kRootKey;
        return true;
      case State::kRootValue:
        if (key_ == kMetadataKey) {
          state_ = State::kMetadataKey;
          metadata_keys_.clear();
        } else {
          entry_ = HeaderEntry{};
          entry_.name = std::move(key_);
          fields_seen_ = 0;
          state_ = State::kTensorKey;
        }
        return true;
      default:
        return unexpected("an object");
    }
  }

  bool key(string_t& k) override {
    switch (state_) {
      case State::kRootKey:
        if (!root_keys_.insert(k).second) {
          fail(fmt::format("{}: duplicate key {} in the header", source_, quote_for_message(k)));
        }
        key_ = std::move(k);
        state_ = State::kRootValue;
        return true;
      case State::kMetadataKey:
        if (!metadata_keys_.insert(k).second) {
          fail(fmt::format("{}: __metadata__ has the key {} twice", source_, quote_for_message(k)));
        }
        key_ = std::move(k);
        state_ = State::kMetadataValue;
        return true;
      case State::kTensorKey: {
        Field f;
        if (k == "dtype") {
          f = Field::kDtype;
        } else if (k == "shape") {
          f = Field::kShape;
        } else if (k == "data_offsets") {
          f = Field::kOffsets;
        } else {
          fail(fmt::format("{}unknown field {} (a tensor has exactly dtype, shape, data_offsets)",
                           where_tensor(), quote_for_message(k, 40)));
        }
        const unsigned bit = 1u << static_cast<unsigned>(f);
        if (fields_seen_ & bit) fail(fmt::format("{}field \"{}\" appears twice", where_tensor(), k));
        fields_seen_ |= bit;
        field_ = f;
        state_ = State::kTensorValue;
        return true;
      }
      default:
        return unexpected("a key");  // not reachable from the JSON grammar
    }
  }

  bool end_object() override {
    switch (state_) {
      case State::kRootKey:
        state_ = State::kDone;
        return true;
      case State::kMetadataKey:
        state_ = State::kRootKey;
        return true;
      case State::kTensorKey:
        for (Field f : {Field::kDtype, Field::kShape, Field::kOffsets}) {
          if (!(fields_seen_ & (1u << static_cast<unsigned>(f)))) {
            fail(fmt::format("{}missing field \"{}\"", where_tensor(), field_name(f)));
          }
        }
        result_.tensors.push_back(std::move(entry_));
        state_ = State::kRootKey;
        return true;
      default:
        return unexpected("the end of an object");  // not reachable from the JSON grammar
    }
  }

  bool start_array(std::size_t) override {
    if (state_ == State::kTensorValue && field_ == Field::kShape) {
      state_ = State::kShape;
      return true;
    }
    if (state_ == State::kTensorValue && field_ == Field::kOffsets) {
      state_ = State::kOffsets;
      offsets_seen_ = 0;
      return true;
    }
    return unexpected("a list");
  }

  bool end_array() override {
    if (state_ == State::kShape) {
      state_ = State::kTensorKey;
      return true;
    }
    if (state_ == State::kOffsets) {
      if (offsets_seen_ != 2) {
        fail(fmt::format("{}data_offsets has {} entries, expected two [begin, end]", where(),
                         offsets_seen_));
      }
      state_ = State::kTensorKey;
      return true;
    }
    return unexpected("the end of a list");  // not reachable from the JSON grammar
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    // nlohmann's message quotes the last token, which a hostile header can make huge.
    std::string what = ex.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    fail(fmt::format("{}: header is not valid JSON (at header byte {}): {}", source_, position, what));
  }

 private:
  enum class State {
    kStart, kRootKey, kRootValue, kMetadataKey, kMetadataValue,
    kTensorKey, kTensorValue, kShape, kOffsets, kDone,
  };
  enum class Field : unsigned { kDtype = 0, kShape = 1, kOffsets = 2 };

  static std::string_view field_name(Field f) {
    switch (f) {
      case Field::kDtype: return "dtype";
      case Field::kShape: return "shape";
      case Field::kOffsets: return "data_offsets";
    }
    return "?";
  }

  [[noreturn]] void fail(const std::string& message) const { throw InputError(message); }

  std::string where_tensor() const {
    return fmt::format("{}: tensor {}: ", source_, quote_for_message(entry_.name));
  }
  // "<source>: tensor 'w': " inside a tensor entry, "<source>: " elsewhere.
  std::string where() const {
    switch (state_) {
      case State::kTensorKey: case State::kTensorValue: case State::kShape: case State::kOffsets:
        return where_tensor();
      default:
        return source_ + ": ";
    }
  }

  // An event the grammar does not allow in the current state: say what was expected.
  [[noreturn]] bool unexpected(const std::string& found) const {
    switch (state_) {
      case State::kStart:
        fail(fmt::format("{}: header is not a JSON object (found {})", source_, found));
      case State::kRootValue:
        if (key_ == kMetadataKey) {
          fail(fmt::format("{}: __metadata__ must be an object of strings, found {}", source_, found));
        }
        fail(fmt::format("{}: tensor {} must be an object with dtype, shape, data_offsets, found {}",
                         source_, quote_for_message(key_), found));
      case State::kMetadataValue:
        fail(fmt::format("{}: __metadata__ value of key {} must be a string, found {}", source_,
                         quote_for_message(key_), found));
      case State::kTensorValue:
        if (field_ == Field::kDtype) fail(fmt::format("{}dtype must be a string, found {}", where(), found));
        if (field_ == Field::kShape) {
          fail(fmt::format("{}shape must be a list of non-negative integers, found {}", where(), found));
        }
        fail(fmt::format("{}data_offsets must be a list of two non-negative integers, found {}",
                         where(), found));
      case State::kShape:
        fail(fmt::format("{}shape[{}] must be a non-negative integer, found {}", where(),
                         entry_.shape.size(), found));
      case State::kOffsets:
        fail(fmt::format("{}data_offsets[{}] must be a non-negative integer, found {}", where(),
                         offsets_seen_, found));
      default:
        fail(fmt::format("{}: unexpected {} in the header", source_, found));
    }
  }

  const std::string& source_;
  State state_ = State::kStart;
  ParsedHeader result_;
  std::unordered_set<std::string> root_keys_;
  std::unordered_set<std::string> metadata_keys_;
  std::string key_;          // the root or metadata key whose value comes next
  HeaderEntry entry_;        // the tensor being read
  unsigned fields_seen_ = 0; // bit per Field
  Field field_ = Field::kDtype;
  int offsets_seen_ = 0;
};

}  // namespace

ParsedHeader parse_header_json(std::string_view json_text, const std::string& source) {
  HeaderHandler handler(source);
  const bool ok = json::sax_parse(json_text.begin(), json_text.end(), &handler,
                                  json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  // Every rejection throws; a false return without one would be a handler bug.
  if (!ok || !handler.finished()) {
    throw InputError(fmt::format("{}: header is not a complete JSON object", source));
  }
  return handler.take();
}

}  // namespace disa::llm
