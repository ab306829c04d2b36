#!/usr/bin/python3
"""Writes the fuzzing seed corpus (corpus/) for the safetensors reader.

valid_*   must parse; invalid_* must be rejected with an InputError. The corpus replay
test (corpus_replay_test.cpp) holds the reader to these names, and run_fuzz.sh starts
libFuzzer from these files. Kept small (about 1 KB at most). Regenerate with
    /usr/bin/python3 tests/llm/safetensors/make_corpus.py
"""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def raw(header: bytes, data: bytes = b"", length=None) -> bytes:
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def st(tensors: dict, data: bytes, metadata=None, pad=True) -> bytes:
    h = dict(tensors)
    if metadata is not None:
        h["__metadata__"] = metadata
    header = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        header += b" " * ((8 - len(header) % 8) % 8)
    return raw(header, data)


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


CASES = {
    # accepted
    "valid_f32_2x2": st({"w": t("F32", [2, 2], 0, 16)}, bytes(range(16))),
    "valid_two_tensors_meta": st({"a": t("BF16", [3], 0, 6), "b": t("I64", [], 6, 14)},
                                 bytes(range(14)), metadata={"format": "pt"}),
    "valid_empty_tensor": st({"e": t("U8", [0], 0, 0), "s": t("I8", [1], 0, 1)}, b"\x07"),
    "valid_no_tensors": st({}, b""),
    "valid_empty_huge_dims": st({"e": t("F64", [2**63 - 1, 2**63 - 1, 0], 0, 0)}, b""),
    "valid_unpadded": st({"x": t("BOOL", [2], 0, 2)}, b"\x00\x01", pad=False),
    "valid_all_dtypes": st({f"t{i}": t(d, [1], o, o + s) for i, (d, s, o) in enumerate(
        [("F64", 8, 0), ("I64", 8, 8), ("U64", 8, 16), ("F32", 4, 24), ("I32", 4, 28), ("U32", 4, 32),
         ("F16", 2, 36), ("BF16", 2, 38), ("I16", 2, 40), ("U16", 2, 42), ("I8", 1, 44), ("U8", 1, 45),
         ("BOOL", 1, 46), ("F8_E4M3", 1, 47), ("F8_E5M2", 1, 48), ("F8_E8M0", 1, 49)])}, bytes(50)),
    # rejected
    "invalid_short": b"\x01\x02\x03",
    "invalid_zero_length": raw(b"", length=0),
    "invalid_huge_length": raw(b"{}", length=2**63),
    "invalid_length_past_end": raw(b"{}      ", length=1000),
    "invalid_not_object": raw(b"[1,2,3]"),
    "invalid_bad_utf8": raw(b'{"\xff":1}'),
    "invalid_duplicate_key": raw(b'{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},'
                                 b'"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
    "invalid_unknown_dtype": st({"w": t("F4", [2], 0, 1)}, b"\x00"),
    "invalid_negative_dim": st({"w": t("U8", [-1], 0, 0)}, b""),
    "invalid_shape_mismatch": st({"w": t("F32", [3], 0, 8)}, bytes(8)),
    "invalid_overflow": st({"w": t("F32", [2**62, 8], 0, 8)}, bytes(8)),
    "invalid_overlap": st({"a": t("U8", [4], 0, 4), "b": t("U8", [4], 2, 6)}, bytes(6)),
    "invalid_hole": st({"a": t("U8", [2], 0, 2), "b": t("U8", [2], 4, 6)}, bytes(6)),
    "invalid_trailing": st({"a": t("U8", [2], 0, 2)}, bytes(5)),
    "invalid_past_buffer": st({"a": t("U8", [4], 0, 4)}, bytes(2)),
    "invalid_extra_field": st({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": 1}}, b"\x00"),
    "invalid_missing_field": st({"a": {"dtype": "U8", "shape": [1]}}, b"\x00"),
    "invalid_metadata_type": st({}, b"", metadata={"k": 1}),
    "invalid_offsets_reversed": st({"a": t("U8", [0], 3, 1)}, bytes(3)),
    "invalid_deep_nesting": raw(b"{" + b'"a":[' * 200 + b"]" * 200 + b"}"),
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, content in CASES.items():
        with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
            f.write(content)
    print(f"wrote {len(CASES)} seed files into {HERE}")


if __name__ == "__main__":
    main()
