// Helper of compare_with_hf_tokenizers.sh (node >= 18). Three modes:
//   texts   SHARED_DATA OUT.jsonl        every problem/solution text of the benchmark files, one
//                                        JSON string per line; OUT.jsonl.src names each text's origin
//   encode  MODULE_DIR TOKENIZER_DIR IN.jsonl OUT.jsonl
//                                        @huggingface/tokenizers' ids for each text (JSON arrays)
//                                        and, in OUT.jsonl.decoded, its decoding of them
//   compare A.jsonl B.jsonl SOURCES WHAT line-by-line comparison; prints the count and mismatches
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";

// The benchmark files and the fields that hold problem and solution texts (SOURCES.md).
const FILES = [
  "math500/test.jsonl", "gsm8k/test.jsonl", "gsm8k/train.jsonl", "aime24/test.jsonl", "aime25/test.jsonl",
  "amc23/test.jsonl", "minerva_math/test.jsonl", "olympiadbench/test.jsonl", "humaneval/HumanEval.jsonl.gz",
  "humanevalplus/HumanEvalPlus.jsonl.gz", "livecodebench/livecodebench.json", "codeforces/codeforces.json",
  "rllm_test_math/aime.json", "rllm_test_math/amc.json", "rllm_test_math/math.json",
  "rllm_test_math/minerva.json", "rllm_test_math/olympiad_bench.json",
];
const FIELDS = ["problem", "question", "context", "prompt", "starter_code", "solution", "canonical_solution",
                "answer", "final_answer"];

function records(file) {
  let text = fs.readFileSync(file);
  if (file.endsWith(".gz")) text = zlib.gunzipSync(text);
  text = text.toString("utf8");
  if (file.endsWith(".json")) return JSON.parse(text);
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

function texts(sharedData, out) {
  const lines = [], sources = [];
  for (const name of FILES) {
    const file = path.join(sharedData, name);
    if (!fs.existsSync(file)) throw new Error(`missing ${file}`);
    records(file).forEach((record, i) => {
      for (const field of FIELDS) {
        const values = Array.isArray(record[field]) ? record[field] : [record[field]];
        values.forEach((v, j) => {
          if (typeof v !== "string") return;
          lines.push(JSON.stringify(v));
          sources.push(`${name} record ${i} ${field}${values.length > 1 ? `[${j}]` : ""}`);
        });
      }
    });
  }
  fs.writeFileSync(out, lines.join("\n") + "\n");
  fs.writeFileSync(out + ".src", sources.join("\n") + "\n");
  console.log(`texts: ${lines.length} from ${FILES.length} files`);
}

function encode(moduleDir, tokenizerDir, input, out) {
  const { Tokenizer } = createRequire(path.join(moduleDir, "package.json"))("@huggingface/tokenizers");
  const json = (f) => JSON.parse(fs.readFileSync(path.join(tokenizerDir, f), "utf8"));
  const tokenizer = new Tokenizer(json("tokenizer.json"), json("tokenizer_config.json"));
  const ids = [], decoded = [];
  let tokens = 0;
  const start = process.hrtime.bigint();
  for (const line of fs.readFileSync(input, "utf8").split("\n")) {
    if (line === "") continue;
    const e = tokenizer.encode(JSON.parse(line), { add_special_tokens: false }).ids;
    tokens += e.length;
    ids.push(JSON.stringify(e));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const line of ids) {
    const e = JSON.parse(line);
    decoded.push(JSON.stringify(e.length ? tokenizer.decode(e, { skip_special_tokens: false }) : ""));
  }
  fs.writeFileSync(out, ids.join("\n") + "\n");
  fs.writeFileSync(out + ".decoded", decoded.join("\n") + "\n");
  console.log(`@huggingface/tokenizers: ${ids.length} texts, ${tokens} tokens in ${seconds.toFixed(2)} s ` +
              `(${Math.round(tokens / seconds)} tokens/s)`);
}

function compare(a, b, sourcesFile, what) {
  const lines = (f) => fs.readFileSync(f, "utf8").split("\n").slice(0, -1);
  const x = lines(a), y = lines(b), sources = lines(sourcesFile);
  if (x.length !== y.length) {
    console.log(`${what}: ${x.length} lines against ${y.length}`);
    return 1;
  }
  let mismatches = 0;
  for (let i = 0; i < x.length; ++i) {
    if (x[i] === y[i]) continue;
    if (++mismatches <= 5) {
      console.log(`  mismatch on line ${i + 1} (${sources[i]}):\n    js:  ${x[i].slice(0, 300)}\n    cpp: ${y[i].slice(0, 300)}`);
    }
  }
  console.log(`${what}: compared ${x.length} texts, ${mismatches} mismatches`);
  return mismatches === 0 ? 0 : 1;
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "texts") texts(...args);
else if (mode === "encode") encode(...args);
else if (mode === "compare") process.exitCode = compare(...args);
else throw new Error(`unknown mode ${mode}`);
