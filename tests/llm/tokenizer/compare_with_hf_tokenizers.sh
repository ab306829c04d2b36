#!/usr/bin/env bash
# Compares `disa llm tokenize` with Hugging Face's JavaScript tokenizer
# (@huggingface/tokenizers, installed by npm into a temporary folder) on every problem and
# solution text of the benchmark files in ../shared/data, with Qwen3's tokenizer.json:
# ids text by text, and the decoding of those ids. Prints the counts and the mismatches
# (the first few in full) and the tokens/s of both.
#
#   tests/llm/tokenizer/compare_with_hf_tokenizers.sh [PATH/TO/disa]
#
# Exit: 0 all agree, 1 a mismatch, 77 skipped (no node/npm, registry unreachable, or no
# ../shared; ctest maps 77 to "skipped"). Shared data: $DISA_SHARED_DIR or ../shared.
set -uo pipefail
cd "$(dirname "$0")/../../.."
DISA="${1:-build/bin/disa}"
HF_TOKENIZERS_VERSION=0.2.0  # pinned: a new release must not change this test's verdict silently
here=tests/llm/tokenizer

skip() { echo "SKIPPED: $*"; exit 77; }
shared="${DISA_SHARED_DIR:-../shared}"
[ -f "$shared/data/tokenizer/qwen3/tokenizer.json" ] || skip "no $shared/data/tokenizer/qwen3/tokenizer.json"
command -v node >/dev/null || skip "node not found"
command -v npm >/dev/null || skip "npm not found"
[ -x "$DISA" ] || { echo "error: $DISA is not an executable (build the disa target)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/disa_hf_tokenizers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo '{"private": true}' > "$tmp/package.json"
if ! npm install --prefix "$tmp" --no-audit --no-fund --silent "@huggingface/tokenizers@$HF_TOKENIZERS_VERSION" \
     >"$tmp/npm.log" 2>&1; then
  tail -5 "$tmp/npm.log"
  skip "npm could not install @huggingface/tokenizers@$HF_TOKENIZERS_VERSION (registry unreachable?)"
fi

node "$here/compare_with_hf_tokenizers.mjs" texts "$shared/data" "$tmp/texts.jsonl" || exit 1
node "$here/compare_with_hf_tokenizers.mjs" encode "$tmp" "$shared/data/tokenizer/qwen3" "$tmp/texts.jsonl" \
  "$tmp/js_ids.jsonl" || exit 1

# disa: the load alone (one empty text), then everything; the difference is the encoding.
echo '""' > "$tmp/empty.jsonl"
t0=$(date +%s.%N)
"$DISA" llm tokenize --tokenizer "$shared/data/tokenizer/qwen3" --input "$tmp/empty.jsonl" >/dev/null || exit 1
t1=$(date +%s.%N)
"$DISA" llm tokenize --json --tokenizer "$shared/data/tokenizer/qwen3" --input "$tmp/texts.jsonl" \
  >"$tmp/cpp_ids.jsonl" || exit 1
t2=$(date +%s.%N)
"$DISA" llm tokenize --decode --tokenizer "$shared/data/tokenizer/qwen3" --input "$tmp/js_ids.jsonl" \
  >"$tmp/cpp_decoded.jsonl" || exit 1
tokens=$(tr -cd ',[' <"$tmp/cpp_ids.jsonl" | wc -c)  # per array: its commas and "[" count its ids, plus one for an empty array
empty=$(grep -c '^\[\]$' "$tmp/cpp_ids.jsonl")
tokens=$((tokens - empty))
awk -v l="$t0" -v m="$t1" -v e="$t2" -v n="$tokens" 'BEGIN {
  printf "disa llm tokenize: %d tokens in %.2f s after a %.2f s load (%.0f tokens/s)\n", n, e - m - (m - l), m - l, n / (e - m - (m - l)) }'

status=0
node "$here/compare_with_hf_tokenizers.mjs" compare "$tmp/js_ids.jsonl" "$tmp/cpp_ids.jsonl" "$tmp/texts.jsonl.src" \
  "encode" || status=1
node "$here/compare_with_hf_tokenizers.mjs" compare "$tmp/js_ids.jsonl.decoded" "$tmp/cpp_decoded.jsonl" \
  "$tmp/texts.jsonl.src" "decode" || status=1
exit $status
