// Tests the ChatML format (llm/tokenizer/chat_format.h): the text of a two-message
// conversation with and without the generation prompt, its ids with Qwen's tokenizer
// (../shared) and with the character tokenizer, and the errors.
#include "llm/tokenizer/chat_format.h"

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/tokenizer/bpe_tokenizer.h"
#include "llm/tokenizer/char_tokenizer.h"
#include "src/input_error.h"
#include "tests/llm/tokenizer/shared_tokenizer_data.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using disa::test::contains_all;
using disa::test::input_error_message;

const std::vector<ChatMessage> kConversation = {{"system", "You are terse."}, {"user", "What is 2+2?"}};

TEST(ChatFormat, RendersChatMl) {
  EXPECT_EQ(render_chatml(kConversation, false),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n");
  EXPECT_EQ(render_chatml(kConversation, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chatml({}, true), "<|im_start|>assistant\n");
}

TEST(ChatFormat, EncodesWithQwenTokenizer) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  const Tokenizer& qwen = test::qwen_tokenizer(*dir);
  // Checked against @huggingface/tokenizers 0.2.0 on the same text.
  const std::vector<std::int32_t> want = {151644, 8948, 198, 2610, 525, 50537, 13, 151645, 198, 151644, 872,   198,
                                          3838,   374,  220, 17,   10,  17,    30, 151645, 198, 151644, 77091, 198};
  EXPECT_EQ(encode_chatml(qwen, kConversation, true), want);
}

TEST(ChatFormat, EncodesWithCharTokenizer) {
  const CharTokenizer t("abcdefghijklmnopqrstuvwxyzW 2+?.\n", {"<|im_start|>", "<|im_end|>"}, "<|im_end|>");
  const std::vector<ChatMessage> chat = {{"user", "a b"}};
  const std::vector<std::int32_t> ids = encode_chatml(t, chat, true);
  ASSERT_EQ(ids.size(), 1 + 5 + 3 + 1 + 1 + 1 + 10u);
  EXPECT_EQ(ids.front(), *t.special_ids().im_start);
  EXPECT_EQ(ids[9], *t.special_ids().im_end);
  EXPECT_EQ(t.decode(ids), render_chatml(chat, true));
}

// The parts of real chat templates (tokenizer_config.json's chat_template, JSON-decoded:
// the literals' line breaks are the two characters backslash, n) that decide the system turn.
constexpr const char* kQwen25Template =
    R"({%- else %}
        {%- if messages[0]['role'] == 'system' %}
            {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
        {%- else %}
            {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
        {%- endif %})";
constexpr const char* kQwen2Template =
    R"({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %})";
constexpr const char* kQwen25MathTemplate =
    R"({%- else %}{{- '<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n' }})";
constexpr const char* kQwen3LikeTemplate =
    R"({%- if messages[0].role == 'system' %}{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n\n' }}{%- endif %})";

TEST(ChatFormat, DefaultSystemMessageIsReadFromTheTemplate) {
  EXPECT_EQ(default_system_message_of_template(kQwen25Template),
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(default_system_message_of_template(kQwen2Template), "You are a helpful assistant.");
  EXPECT_EQ(default_system_message_of_template(kQwen25MathTemplate),
            "Please reason step by step, and put your final answer within \\boxed{}.");
  EXPECT_EQ(default_system_message_of_template(kQwen3LikeTemplate), std::nullopt);
  EXPECT_EQ(default_system_message_of_template(""), std::nullopt);
  EXPECT_EQ(default_system_message_of_template("'<|im_start|>system\\nunterminated"), std::nullopt);
  // No template, no system turn: a char tokenizer's single turn is the user message alone.
  const CharTokenizer t("abc", {"<|im_start|>", "<|im_end|>"}, "<|im_end|>");
  const std::vector<ChatMessage> one = single_turn(t, "abc");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].role, "user");
}

TEST(ChatFormat, QwenTemplatesGiveHuggingFacesPromptIds) {
  DISA_REQUIRE_SHARED_TOKENIZER_DIR(dir);
  // Qwen3's own template inserts no system turn.
  EXPECT_EQ(test::qwen_tokenizer(*dir).default_system_message(), std::nullopt);
  // The same vocabulary under Qwen2.5-Instruct's template: apply_chat_template's ids for
  // [{"role": "user", "content": "What is 2+2?"}] with add_generation_prompt.
  const nlohmann::json vocabulary = nlohmann::json::parse(std::ifstream(*dir / "qwen3" / "tokenizer.json"));
  const nlohmann::json config = {{"chat_template", kQwen25Template}, {"eos_token", "<|im_end|>"}};
  const ByteLevelBpeTokenizer qwen25(vocabulary, *dir / "qwen3" / "tokenizer.json", &config);
  const std::vector<std::int32_t> want = {151644, 8948,  198,   2610,  525,    1207, 16948, 11,  3465,  553,
                                          54364,  14817, 13,    1446,  525,    264,  10950, 17847, 13,  151645,
                                          198,    151644, 872,  198,   3838,   374,  220,   17,    10,  17,
                                          30,     151645, 198,  151644, 77091,  198};
  EXPECT_EQ(encode_chatml(qwen25, single_turn(qwen25, "What is 2+2?"), true), want);
}

TEST(ChatFormat, RejectsBadRolesAndTokenizersWithoutChatMl) {
  const std::vector<ChatMessage> bad = {{"user", "x"}, {"as\nsistant", "y"}};
  EXPECT_TRUE(contains_all(input_error_message([&] { render_chatml(bad, false); }), {"messages[1].role"}));
  const std::vector<ChatMessage> empty_role = {{"", "x"}};
  EXPECT_TRUE(contains_all(input_error_message([&] { render_chatml(empty_role, false); }), {"messages[0].role"}));
  const CharTokenizer plain("abc", {"<eos>"}, "<eos>");
  EXPECT_TRUE(contains_all(input_error_message([&] { encode_chatml(plain, kConversation, true); }), {"<|im_start|>"}));
}

}  // namespace
}  // namespace disa::llm
