// The sampler (llm/model/sampler.h) and the scorer (llm/model/scorer.h): seeded
// reproducibility, independence of batch composition, the sampling rule's truncations,
// EOS and stop strings, and teacher-forced scores equal to the sampler's own log-probs.
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "llm/model/sampler.h"
#include "llm/model/scorer.h"
#include "tests/llm/model/tiny_models.h"
#include "src/numerical_error.h"
#include "tests/util/errors.h"

namespace disa::llm {
namespace {

using model_test::tiny_model;

std::vector<std::vector<std::int32_t>> prompts() {
  return {{3, 14, 15, 92, 65}, {35, 89}, {79, 32, 38, 46, 26, 43, 38, 32}, {27}};
}

// Decodes id i as the letter 'a' + i % 26 (a stand-in tokenizer for stop strings).
std::string letters(std::span<const std::int32_t> ids) {
  std::string s;
  for (const std::int32_t i : ids) s += static_cast<char>('a' + i % 26);
  return s;
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  SamplingOptions o{.temperature = 1.0, .max_new_tokens = 24, .seed = 7};
  const auto a = sample(*model, prompts(), o), b = sample(*model, prompts(), o);
  o.seed = 8;
  const auto c = sample(*model, prompts(), o);
  std::size_t differing = 0;
  for (std::size_t r = 0; r < a.size(); ++r) {
    EXPECT_EQ(a[r].tokens, b[r].tokens);
    EXPECT_EQ(a[r].sampling_logprobs, b[r].sampling_logprobs);
    differing += a[r].tokens != c[r].tokens;
  }
  EXPECT_EQ(differing, a.size());
}

TEST(Sampler, RowTokensDoNotDependOnTheRestOfTheBatch) {
  Transformer model = tiny_model(model_test::llama_config_json(), 2);
  const SamplingOptions o{.temperature = 0.9, .top_p = 0.95, .top_k = 40, .max_new_tokens = 20, .seed = 3};
  const std::vector<std::uint64_t> ids = {10, 11, 12, 13};
  const auto together = sample(*model, prompts(), o, ids);
  for (std::size_t r = 0; r < prompts().size(); ++r) {
    const std::uint64_t id = ids[r];
    const auto alone = sample(*model, {prompts()[r]}, o, std::span<const std::uint64_t>(&id, 1));
    EXPECT_EQ(alone[0].tokens, together[r].tokens) << "row " << r;
    for (std::size_t t = 0; t < alone[0].tokens.size(); ++t) {
      EXPECT_NEAR(alone[0].model_logprobs[t], together[r].model_logprobs[t], 1e-5);
    }
  }
  // Reordering the batch moves each row's tokens with its id.
  const auto all = prompts();
  const std::vector<std::vector<std::int32_t>> reversed(all.rbegin(), all.rend());
  const std::vector<std::uint64_t> reversed_ids(ids.rbegin(), ids.rend());
  const auto swapped = sample(*model, reversed, o, reversed_ids);
  for (std::size_t r = 0; r < ids.size(); ++r) EXPECT_EQ(swapped[ids.size() - 1 - r].tokens, together[r].tokens);
}

TEST(Sampler, ScorerReproducesTheSamplersModelLogprobs) {
  for (const auto& config : {model_test::qwen2_config_json(), model_test::llama_config_json()}) {
    Transformer model = tiny_model(config, 4);
    const SamplingOptions o{.temperature = 0.8, .top_p = 0.9, .top_k = 20, .max_new_tokens = 16, .seed = 5};
    const auto out = sample(*model, prompts(), o);
    std::vector<ScoreRequest> requests;
    for (std::size_t r = 0; r < out.size(); ++r) requests.push_back({prompts()[r], out[r].tokens});
    const auto scores = score(*model, requests, /*batch_size=*/3);
    ASSERT_EQ(scores.size(), out.size());
    for (std::size_t r = 0; r < out.size(); ++r) {
      ASSERT_EQ(scores[r].size(), out[r].tokens.size());
      for (std::size_t t = 0; t < scores[r].size(); ++t) {
        EXPECT_NEAR(scores[r][t], out[r].model_logprobs[t], 2e-5) << "row " << r << " token " << t;
        // Truncation and temperature < 1 concentrate mass: q >= pi on sampled tokens is not
        // guaranteed, but q is a distribution over the kept tokens only.
        EXPECT_LE(out[r].sampling_logprobs[t], 1e-6);
      }
    }
    // With temperature 0.5 the scorer gives the tempered (untruncated) log-probs.
    const SamplingOptions tempered{.temperature = 0.5, .max_new_tokens = 8, .seed = 6};
    const auto hot = sample(*model, prompts(), tempered);
    for (std::size_t r = 0; r < hot.size(); ++r) requests[r].continuation = hot[r].tokens;
    const auto tempered_scores = score(*model, requests, 8, 0.5);
    for (std::size_t r = 0; r < hot.size(); ++r) {
      for (std::size_t t = 0; t < hot[r].tokens.size(); ++t) {
        EXPECT_NEAR(tempered_scores[r][t], hot[r].sampling_logprobs[t], 2e-5);
      }
    }
  }
}

TEST(Sampler, UntruncatedTemperatureOneSamplesTheModel) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 6);
  const auto out = sample(*model, prompts(), {.max_new_tokens = 12, .seed = 1});
  for (const Completion& c : out) {
    for (std::size_t t = 0; t < c.tokens.size(); ++t) EXPECT_NEAR(c.model_logprobs[t], c.sampling_logprobs[t], 1e-6);
  }
}

TEST(Sampler, GreedyAndTopOneAgree) {
  Transformer model = tiny_model(model_test::llama_config_json(), 7);
  const auto greedy = sample(*model, prompts(), {.temperature = 0, .max_new_tokens = 10});
  const auto top1 = sample(*model, prompts(), {.temperature = 1.3, .top_k = 1, .max_new_tokens = 10, .seed = 99});
  for (std::size_t r = 0; r < greedy.size(); ++r) {
    EXPECT_EQ(greedy[r].tokens, top1[r].tokens);
    for (const float lq : top1[r].sampling_logprobs) EXPECT_NEAR(lq, 0.0, 1e-6);  // one token kept
  }
}

TEST(DrawTokens, TopKAndTopPKeepExactlyTheStatedSet) {
  // probabilities proportional to 1, 2, 4, 8, 16 (log-probs spaced by log 2)
  const torch::Tensor logits = torch::arange(5, torch::kFloat32).mul(std::log(2.0f)).unsqueeze(0);
  const auto reachable = [&](const SamplingOptions& o) {
    std::set<std::int64_t> seen;
    for (int i = 0; i < 1000; ++i) {
      const double u = (i + 0.5) / 1000;
      seen.insert(draw_tokens(logits, torch::tensor({u}, torch::kFloat64), o).tokens.item<std::int64_t>());
    }
    return seen;
  };
  EXPECT_EQ(reachable({.top_k = 2}), (std::set<std::int64_t>{3, 4}));
  EXPECT_EQ(reachable({}), (std::set<std::int64_t>{0, 1, 2, 3, 4}));
  // 16/31 = 0.516: top_p 0.5 keeps the top token alone, 0.6 the top two (24/31 = 0.77 >= 0.6).
  EXPECT_EQ(reachable({.top_p = 0.5}), (std::set<std::int64_t>{4}));
  EXPECT_EQ(reachable({.top_p = 0.6}), (std::set<std::int64_t>{3, 4}));
  EXPECT_EQ(reachable({.top_p = 0.8}), (std::set<std::int64_t>{2, 3, 4}));
  const TokenDraw d = draw_tokens(logits, torch::tensor({0.0}, torch::kFloat64), {.top_p = 0.6});
  EXPECT_EQ(d.tokens.item<std::int64_t>(), 3);
  EXPECT_NEAR(d.sampling_logprobs.item<float>(), std::log(8.0 / 24.0), 1e-6);
  EXPECT_NEAR(d.model_logprobs.item<float>(), std::log(8.0 / 31.0), 1e-6);
}

TEST(DrawTokens, TopPKeepsTheHigherIdsOfTokensTiedAtTheCutAsHuggingFaceDoes) {
  // Four equal tokens: top_p 0.5 keeps two of them. Hugging Face (and vLLM) sort
  // ascending, drop from the bottom while the cumulative mass is <= 1 - top_p, and their
  // sort keeps ties in id order on CUDA, so ids 0 and 1 go and 2 and 3 stay.
  const torch::Tensor logits = torch::zeros({1, 4});
  const auto reachable = [&](const SamplingOptions& o) {
    std::set<std::int64_t> seen;
    for (int i = 0; i < 400; ++i) {
      seen.insert(
          draw_tokens(logits, torch::tensor({(i + 0.5) / 400}, torch::kFloat64), o).tokens.item<std::int64_t>());
    }
    return seen;
  };
  EXPECT_EQ(reachable({.top_p = 0.5}), (std::set<std::int64_t>{2, 3}));
  EXPECT_EQ(reachable({.top_p = 0.3}), (std::set<std::int64_t>{2, 3}));
  EXPECT_EQ(reachable({.top_p = 0.2}), (std::set<std::int64_t>{3}));
  EXPECT_EQ(reachable({.top_p = 0.6}), (std::set<std::int64_t>{1, 2, 3}));
  // top-k keeps every token tied with the k-th (Hugging Face's `scores < kth` rule).
  EXPECT_EQ(reachable({.top_k = 2}), (std::set<std::int64_t>{0, 1, 2, 3}));
  // Ties with a token above the cut: {3} is kept whole, one of the tied 1 and 2 joins it.
  const torch::Tensor ranked = torch::tensor({{0.0f, 1.0f, 1.0f, 2.0f}});
  const double p3 = std::exp(2.0) / (1 + 2 * std::exp(1.0) + std::exp(2.0));
  std::set<std::int64_t> seen;
  for (int i = 0; i < 400; ++i) {
    const double u = (i + 0.5) / 400;
    seen.insert(
        draw_tokens(ranked, torch::tensor({u}, torch::kFloat64), {.top_p = p3 + 0.05}).tokens.item<std::int64_t>());
  }
  EXPECT_EQ(seen, (std::set<std::int64_t>{2, 3}));
}

TEST(DrawTokens, SuppressedEosIsNeverDrawnAndTheSamplingLogprobsRenormalise) {
  const torch::Tensor logits = torch::tensor({{0.5f, 3.0f, -0.2f, 1.0f, 2.5f}});
  const torch::Tensor model_logp = torch::log_softmax(logits, -1)[0];
  const SamplingOptions o{.eos_ids = {1, 4, 999}};  // an id outside the vocabulary is ignored
  const double mass_left = std::exp(model_logp[0].item<double>()) + std::exp(model_logp[2].item<double>()) +
                           std::exp(model_logp[3].item<double>());
  std::set<std::int64_t> seen;
  for (int i = 0; i < 400; ++i) {
    const TokenDraw d = draw_tokens(logits, torch::tensor({(i + 0.5) / 400}, torch::kFloat64), o, true);
    const std::int64_t token = d.tokens.item<std::int64_t>();
    seen.insert(token);
    // The model's log-prob stays the untruncated one; q renormalises over what is left.
    EXPECT_FLOAT_EQ(d.model_logprobs.item<float>(), model_logp[token].item<float>());
    EXPECT_NEAR(d.sampling_logprobs.item<float>(), model_logp[token].item<double>() - std::log(mass_left), 1e-6);
  }
  EXPECT_EQ(seen, (std::set<std::int64_t>{0, 2, 3}));
  SamplingOptions greedy = o;
  greedy.temperature = 0;
  EXPECT_EQ(draw_tokens(logits, torch::tensor({0.5}, torch::kFloat64), greedy, true).tokens.item<std::int64_t>(), 3);
  EXPECT_EQ(draw_tokens(logits, torch::tensor({0.5}, torch::kFloat64), greedy, false).tokens.item<std::int64_t>(), 1);
}

TEST(DrawTokens, InverseCdfFrequenciesMatchTheDistribution) {
  const torch::Tensor logits = torch::tensor({{0.3f, -1.0f, 2.0f, 0.0f, 1.1f}});
  const torch::Tensor p = torch::softmax(logits / 0.7, -1)[0].to(torch::kFloat64);
  const int n = 20000;
  std::vector<int> counts(5, 0);
  for (int i = 0; i < n; ++i) {
    const double u = (i + 0.5) / n;  // a uniform grid: frequencies are exact up to 1/n
    ++counts[draw_tokens(logits, torch::tensor({u}, torch::kFloat64), {.temperature = 0.7}).tokens.item<std::int64_t>()];
  }
  for (int v = 0; v < 5; ++v) EXPECT_NEAR(counts[v] / double(n), p[v].item<double>(), 1.5 / n) << v;
}

TEST(Sampler, EosAndStopStringsEndARow) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 8);
  const SamplingOptions free_run{.temperature = 0, .max_new_tokens = 12};
  const auto reference = sample(*model, prompts(), free_run);
  ASSERT_EQ(reference[0].finish, FinishReason::kLength);
  ASSERT_EQ(reference[0].tokens.size(), 12u);

  SamplingOptions eos = free_run;
  eos.eos_ids = {reference[0].tokens[4]};
  const auto stopped = sample(*model, {prompts()[0]}, eos);
  // Ends at the first occurrence of that id, which is kept as the last token.
  const auto first = std::find(reference[0].tokens.begin(), reference[0].tokens.end(), eos.eos_ids[0]);
  EXPECT_EQ(stopped[0].finish, FinishReason::kEos);
  EXPECT_EQ(stopped[0].tokens, std::vector<std::int32_t>(reference[0].tokens.begin(), first + 1));

  SamplingOptions stop = free_run;
  const std::string text = letters(reference[0].tokens);
  stop.stop_strings = {text.substr(6, 2)};
  const auto by_string = sample(*model, {prompts()[0]}, stop, {}, letters);
  EXPECT_EQ(by_string[0].finish, FinishReason::kStop);
  const std::size_t end = text.find(stop.stop_strings[0]) + 2;  // the token completing the string is kept
  EXPECT_EQ(by_string[0].tokens, std::vector<std::int32_t>(reference[0].tokens.begin(), reference[0].tokens.begin() + end));
}

TEST(Sampler, MinNewTokensHoldsBackEosButNotStopStrings) {
  Transformer model = tiny_model(model_test::qwen2_config_json(), 8);
  SamplingOptions o{.max_new_tokens = 12, .seed = 4};
  for (std::int32_t id = 0; id < 97; id += 2) o.eos_ids.push_back(id);  // about half the mass is EOS
  const auto early = sample(*model, prompts(), o);
  std::size_t shortest = 12;
  for (const Completion& c : early) shortest = std::min(shortest, c.tokens.size());
  ASSERT_LT(shortest, 4u) << "the test needs a row that ends before min_new_tokens without it";

  o.min_new_tokens = 4;
  const auto held = sample(*model, prompts(), o);
  for (std::size_t r = 0; r < held.size(); ++r) {
    const Completion& c = held[r];
    ASSERT_GE(c.tokens.size(), 4u) << r;
    for (std::size_t t = 0; t < 4; ++t) EXPECT_EQ(c.tokens[t] % 2, 1) << "row " << r << " drew EOS at " << t;
    EXPECT_EQ(c.finish, FinishReason::kEos) << r;  // and ends at an EOS soon after
    // Before min_new_tokens q is pi renormalised off the EOS ids: log q > log pi.
    for (std::size_t t = 0; t < 4; ++t) EXPECT_GT(c.sampling_logprobs[t], c.model_logprobs[t]) << r;
    for (std::size_t t = 4; t < c.tokens.size(); ++t) EXPECT_NEAR(c.sampling_logprobs[t], c.model_logprobs[t], 1e-6);
  }

  // A stop string still ends a row before min_new_tokens, as on Hugging Face.
  SamplingOptions stop{.temperature = 0, .max_new_tokens = 12, .min_new_tokens = 8};
  const auto free_run = sample(*model, {prompts()[0]}, {.temperature = 0, .max_new_tokens = 12});
  stop.stop_strings = {letters(free_run[0].tokens).substr(1, 2)};
  const auto stopped = sample(*model, {prompts()[0]}, stop, {}, letters);
  EXPECT_EQ(stopped[0].finish, FinishReason::kStop);
  EXPECT_LT(stopped[0].tokens.size(), 8u);
}

TEST(Sampler, BadOptionsAreNamed) {
  using disa::test::contains_all;
  using disa::test::input_error_message;
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  const auto run = [&](SamplingOptions o) { return input_error_message([&] { sample(*model, prompts(), o); }); };
  EXPECT_TRUE(contains_all(run({.temperature = -1}), {"temperature", "-1"}));
  // Logits / 1e-40 overflow float: refused up front, not blamed on the model's logits.
  EXPECT_TRUE(contains_all(run({.temperature = 1e-40}), {"temperature = 1e-40", "at least 1e-06"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { score(*model, {{{1}, {1}}}, 8, 1e-40); }),
                           {"temperature = 1e-40", "at least 1e-06"}));
  EXPECT_TRUE(contains_all(run({.top_p = 0}), {"top_p", "0"}));
  EXPECT_TRUE(contains_all(run({.top_p = 1.5}), {"top_p", "1.5"}));
  EXPECT_TRUE(contains_all(run({.top_k = -2}), {"top_k", "-2"}));
  EXPECT_TRUE(contains_all(run({.max_new_tokens = 0}), {"max_new_tokens", "0"}));
  EXPECT_TRUE(
      contains_all(run({.max_new_tokens = 8, .min_new_tokens = -1}), {"min_new_tokens = -1", "max_new_tokens = 8"}));
  EXPECT_TRUE(
      contains_all(run({.max_new_tokens = 8, .min_new_tokens = 9}), {"min_new_tokens = 9", "max_new_tokens = 8"}));
  {
    SamplingOptions all_eos{.max_new_tokens = 8, .min_new_tokens = 2};
    for (std::int32_t id = 0; id < 97; ++id) all_eos.eos_ids.push_back(id);
    EXPECT_TRUE(contains_all(run(all_eos), {"min_new_tokens = 2", "every one of the 97 token ids an EOS id"}));
  }
  EXPECT_TRUE(contains_all(run({.stop_strings = {"x"}}), {"stop strings", "tokenizer"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { sample(*model, {{1}, {}}, {}); }), {"prompt 1", "empty"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { sample(*model, {{1, 200}}, {}); }), {"input_ids", "200"}));
  EXPECT_TRUE(contains_all(input_error_message([&] { score(*model, {{{}, {1}}}); }), {"request 0", "empty prompt"}));
  // The tiny model's max_position_embeddings is 256: positions past it are refused.
  EXPECT_TRUE(contains_all(run({.max_new_tokens = 249}),
                           {"8 tokens", "max_new_tokens = 249", "max_position_embeddings = 256"}));
  EXPECT_NO_THROW(sample(*model, {prompts()[2]}, {.max_new_tokens = 248, .seed = 1}));
  EXPECT_TRUE(contains_all(input_error_message([&] {
                             score(*model, {{{1, 2}, std::vector<std::int32_t>(255, 1)}});
                           }),
                           {"request 0", "2 prompt + 255 continuation", "max_position_embeddings = 256"}));
}

// The KV cache holds every position of every row from the start: a model allowing 2^62
// positions asked the allocator for it and ended in LibTorch's backtrace (or the OOM killer).
TEST(Sampler, AKvCacheAboveMemoryIsRefusedBeforeAllocating) {
  nlohmann::json config = model_test::qwen2_config_json();
  config["max_position_embeddings"] = std::int64_t{1} << 62;
  Transformer model = tiny_model(config, 1);
  // 2 x layers x kv heads x head_dim x 10^12 positions x 4 bytes x 8 rows: petabytes.
  EXPECT_TRUE(disa::test::contains_all(
      disa::test::input_error_message([&] {
        sample(*model, std::vector<std::vector<std::int32_t>>(8, {1, 2}), {.max_new_tokens = 1000000000000});
      }),
      {"max_new_tokens = 1000000000000", "8 rows", "the KV cache needs", "of memory"}));
}

TEST(Sampler, NonFiniteLogitsStopTheSamplerNamingRowAndToken) {
  // A diverged model must not sample on: garbage tokens would be scored as wrong answers
  // without a word. One NaN in the (tied) embedding makes logit 35 NaN for every row, so
  // every log-softmax is NaN and the first row (id 10) stops it at its first token.
  Transformer model = tiny_model(model_test::qwen2_config_json(), 1);
  {
    torch::NoGradGuard no_grad;
    model->model->embed_tokens[35][0] = std::numeric_limits<float>::quiet_NaN();
  }
  const std::vector<std::uint64_t> ids = {10, 11, 12, 13};
  try {
    sample(*model, prompts(), {.temperature = 1.0, .max_new_tokens = 4, .seed = 1}, ids);
    FAIL() << "sampled from NaN logits";
  } catch (const NumericalError& e) {
    EXPECT_TRUE(disa::test::contains_all(e.what(), {"row 10 token 0", "nan", "not finite"})) << e.what();
  }
  // Greedy decoding too (argmax of NaN logits is an arbitrary id).
  EXPECT_THROW(sample(*model, prompts(), {.temperature = 0, .max_new_tokens = 4}, ids), NumericalError);
  // And the scorer (its NaN would be written as null into a score or trajectory file).
  try {
    score(*model, {{{3, 14}, {15, 92}}, {{35}, {89}}});
    FAIL() << "scored NaN log-probabilities";
  } catch (const NumericalError& e) {
    EXPECT_TRUE(disa::test::contains_all(e.what(), {"score: request 0 token 0", "not finite"})) << e.what();
  }
}

TEST(Scorer, DifferentiableBatchMatchesPerRowScores) {
  Transformer model = tiny_model(model_test::llama_config_json(), 9);
  const std::vector<ScoreRequest> requests = {{{1, 2, 3}, {4, 5}}, {{6}, {7, 8, 9, 10}}, {{11, 12}, {}}};
  const ContinuationLogprobs b = continuation_logprobs(*model, requests);
  ASSERT_EQ(b.logprobs.sizes(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_TRUE(torch::equal(b.mask.sum(1), torch::tensor({2.0f, 4.0f, 0.0f})));
  b.logprobs.sum().backward();
  EXPECT_TRUE(model->named_parameters()["lm_head.weight"].grad().defined());
  const auto rows = score(*model, requests, 1);
  for (std::size_t r = 0; r < requests.size(); ++r) {
    ASSERT_EQ(rows[r].size(), requests[r].continuation.size());
    for (std::size_t t = 0; t < rows[r].size(); ++t) EXPECT_NEAR(rows[r][t], b.logprobs[r][t].item<float>(), 1e-5);
  }
  // A log-prob is log softmax at the preceding position: check one by hand.
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model->forward(torch::tensor({{6, 7, 8}}, torch::kInt64));
  EXPECT_NEAR(rows[1][1], torch::log_softmax(logits[0][1], -1)[8].item<float>(), 1e-5);
}

}  // namespace
}  // namespace disa::llm
