// Tests the ChatML format (llm/tokenizer/chat_format.h): the text of a two-message
// conversation with and without the generation prompt, its ids with Qwen's tokenizer
// (../shared) and with the character tokenizer, and the errors.
#include "llm/tokenizer/chat_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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
