// UTF-8 and Unicode helpers of the tokenizers: validation, code-point iteration,
// normalisation forms (utf8proc), lossy decoding of byte sequences, and the character
// classes Hugging Face's added-token matching uses.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace disa::llm::utf8 {

// Throws InputError "<what> is not valid UTF-8 (byte N)" unless text is well-formed UTF-8.
void require_valid(std::string_view text, std::string_view what);

// The code point starting at text[pos] of valid UTF-8; advances pos past it.
char32_t next_code_point(std::string_view text, std::size_t& pos);

void append(std::string& out, char32_t cp);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };

// The text in a Unicode normalisation form (utf8proc; NUL bytes are ordinary
// characters). Input must be valid UTF-8.
std::string normalize(std::string_view text, NormalForm form);

// Bytes as UTF-8 text: each maximal ill-formed subsequence becomes one U+FFFD, the
// W3C/WHATWG rule that Rust's from_utf8_lossy and JavaScript's TextDecoder follow.
std::string decode_lossy(std::string_view bytes);

// Unicode White_Space (what Hugging Face's Rust regexes mean by \s).
bool is_white_space(char32_t cp);
// A "word" character for single_word added tokens: letters, marks, decimal digits and
// connector punctuation (Rust regex's \w, up to its Join_Control extras).
bool is_word_char(char32_t cp);

}  // namespace disa::llm::utf8
