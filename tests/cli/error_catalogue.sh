#!/usr/bin/env bash
# One check per entry of docs/ERRORS.md: each error a user can hit from the
# loupe command, produced from a crafted input and checked for its exact
# message and exit status. The entries' ids (E101, ...) tie the two together:
# every id in docs/ERRORS.md must be checked here, and no other.
set -uo pipefail
export LC_ALL=C # messages may hold raw bytes from a file; match them byte for byte
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
# under ASan: fontconfig's process-wide caches (the pictures) are not leaks of ours
export LSAN_OPTIONS="suppressions=$here/plot_lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
data=${LOUPE_TEST_DATA:-$here/../data}
models=${LOUPE_MODELS:-$here/../../models}
catalogue=$here/../../docs/ERRORS.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checked=()
tiny=$data/gpt2-tiny-gelu
demo=$models/gpt2-demo

# check ID STATUS MESSAGE CMD...: runs CMD; its exit status must be STATUS
# and its stderr exactly the line "loupe: MESSAGE" (MESSAGE a regular
# expression matched against the whole line).
check() {
  local id=$1 status=$2 message=$3
  shift 3
  checked+=("$id")
  "$@" >"$work/out" 2>"$work/err" </dev/null
  local got=$?
  if [ "$got" -ne "$status" ] || [ "$(wc -l <"$work/err")" -ne 1 ] ||
     ! grep -qxE -- "loupe: $message" "$work/err"; then
    echo "FAILED $id: $* -> status $got (expected $status), stderr:"
    head -5 "$work/err"
    failures=$((failures + 1))
  fi
}

# check_first ID STATUS LINE CMD...: as check, for errors followed by the
# usage text: only the first line of stderr is matched (whole line).
check_first() {
  local id=$1 status=$2 message=$3
  shift 3
  checked+=("$id")
  "$@" >"$work/out" 2>"$work/err" </dev/null
  local got=$?
  if [ "$got" -ne "$status" ] || ! head -1 "$work/err" | grep -qxE -- "$message"; then
    echo "FAILED $id: $* -> status $got (expected $status), stderr:"
    head -5 "$work/err"
    failures=$((failures + 1))
  fi
}

# model NAME: a copy of the tiny GPT-2 model folder to break.
model() {
  mkdir -p "$work/$1"
  cp "$tiny/config.json" "$tiny/model.safetensors" "$work/$1/"
  echo "$work/$1"
}

# edit_json FILE PYTHON: rewrites the JSON object in FILE as PYTHON changes
# it (acting on the dict c).
edit_json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
c = json.load(open(path))
exec(code)
open(path, "w").write(json.dumps(c))
PY
}

# config NAME PYTHON: a tiny model whose config.json is changed by PYTHON
# (acting on the dict c).
config() {
  local dir
  dir=$(model "$1")
  edit_json "$dir/config.json" "$2"
  echo "$dir"
}

# llama_config NAME PYTHON: the tiny Llama folder with config.json changed
# by PYTHON (acting on the dict c).
llama_config() {
  mkdir -p "$work/$1"
  cp "$data/llama-tiny/config.json" "$data/llama-tiny/model.safetensors" "$work/$1/"
  edit_json "$work/$1/config.json" "$2"
  echo "$work/$1"
}

# safetensors NAME HEADER DATA_BYTES: a model folder whose model.safetensors
# has the given header text and DATA_BYTES zero bytes of data.
safetensors() {
  mkdir -p "$work/$1"
  cp "$tiny/config.json" "$work/$1/"
  python3 - "$work/$1/model.safetensors" "$2" "$3" <<'PY'
import struct, sys
header = sys.argv[2].encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header + bytes(int(sys.argv[3])))
PY
  echo "$work/$1"
}

# weights NAME PYTHON: the tiny model with its header dict h changed by
# PYTHON; data is the tensor bytes (may be changed too).
weights() {
  local dir
  dir=$(model "$1")
  python3 - "$dir/model.safetensors" "$2" <<'PY'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h, data = json.loads(raw[8:8 + n]), raw[8 + n:]
exec(code)
header = json.dumps(h).encode()
open(path, "wb").write(struct.pack("<Q", len(header)) + header + data)
PY
  echo "$dir"
}

# tokenizer NAME VOCAB_PYTHON MERGES: a folder with vocab.json (the dict v,
# GPT-2's 256 byte tokens with ids 0..255, changed by VOCAB_PYTHON; or raw
# text when VOCAB_PYTHON starts with "raw:") and merges.txt holding MERGES.
tokenizer() {
  mkdir -p "$work/$1"
  python3 - "$work/$1/vocab.json" "$2" "$data" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[-1])
from gpt2_bytes import bytes_to_unicode
chars = bytes_to_unicode()
v = {chars[b]: b for b in range(256)}
if code.startswith("raw:"):
    open(path, "wb").write(code[4:].encode("utf-8", "surrogateescape"))
else:
    exec(code)
    open(path, "w", encoding="utf-8").write(json.dumps(v, ensure_ascii=False))
PY
  printf '%b' "$3" >"$work/$1/merges.txt"
  echo "$work/$1"
}

# ---------------------------------------------------------------- command line
check E101 2 "unknown command 'frobnicate' \(try loupe --help\)" "$loupe" frobnicate
check_first E102 2 "loupe - the logit lens for transformer language models" "$loupe"
check_first E103 2 "next: unrecognized option '--bogus'" "$loupe" next --bogus x
check E104 2 "--topk: expected a whole number from 1 to 1000, got '0'" "$loupe" next --topk 0 x
check E105 2 "--temperature: expected a number from 0 to 100, got 'hot'" "$loupe" generate --temperature hot x
check E106 2 "--temperature: use 0 for greedy or at least 0.01" "$loupe" generate --temperature 0.001 x
check E107 2 "--format: expected one of table, json, csv, got 'xml'" "$loupe" lens --format xml x
check E108 2 "--layers: expected a slice A:B of whole numbers \(either may be left out\), got 'one'" \
  "$loupe" lens --layers one x
check E109 2 "--positions: the slice selects nothing out of 2 \(valid indices are 0 .. 1\)" \
  "$loupe" lens --positions 5: "hello world"
check E110 2 "info takes no text \(got 'some text'\)" "$loupe" info "some text"
check E111 2 "help: expected one command, got 2 arguments" "$loupe" help lens next

# ---------------------------------------------------------------- the text
printf 'x' >"$work/one.txt"
check E201 1 "give the text either as arguments or with --file, not both" "$loupe" next --file "$work/one.txt" x
check E202 1 "$work/missing.txt: cannot open: No such file or directory" "$loupe" next --file "$work/missing.txt"
checked+=(E203)
python3 - "$loupe" <<'PY' >"$work/tty.err" 2>&1
import os, pty, subprocess, sys
leader, follower = pty.openpty()
done = subprocess.run([sys.argv[1], "tokenize"], stdin=follower, stderr=subprocess.PIPE)
print(done.returncode, done.stderr.decode().strip())
PY
grep -qx "1 loupe: no text given: pass it as an argument, with --file PATH, or on standard input" "$work/tty.err" ||
  { echo "FAILED E203: $(cat "$work/tty.err")"; failures=$((failures + 1)); }
checked+=(E204)
head -c $((256 * 1024 * 1024 + 1)) /dev/zero | "$loupe" tokenize >/dev/null 2>"$work/err"
status=$?
{ [ "$status" -eq 1 ] && grep -qx "loupe: standard input: longer than the limit of 256 MB" "$work/err"; } ||
  { echo "FAILED E204: status $status: $(cat "$work/err")"; failures=$((failures + 1)); }
check E205 1 "the text is empty: nothing to run the model on" "$loupe" next ""
python3 -c 'print("word " * 600)' >"$work/long.txt"
check E206 1 "the text is 60[0-9] tokens, longer than the model's context of 512 tokens" \
  "$loupe" next --file "$work/long.txt"
check E207 1 "--ids: entry 2 \('x'\) is not a token id: expected whole numbers 0 \.\. 50256 separated by commas" \
  "$loupe" tokenize --ids 1,x
check E208 1 "--ids: entry 1 \(50257\) is not a token id of the model's vocabulary \(0 \.\. 50256\)" \
  "$loupe" next --ids 50257
check E209 1 "give either a text \(arguments, --file or standard input\) or --ids, not both" "$loupe" next --ids 1 x

# ---------------------------------------------------------------- the model folder
checked+=(E301)
mkdir -p "$work/bin"
cp "$loupe" "$work/bin/loupe"
if [ -e /usr/local/share/loupe/models/gpt2-demo ] || [ -e /usr/share/loupe/models/gpt2-demo ]; then
  echo "E301 not checked: a demo model is installed on this machine"
else
  env -u LOUPE_MODEL "$work/bin/loupe" info >/dev/null 2>"$work/err"
  status=$?
  { [ "$status" -eq 1 ] && grep -qE "^loupe: no model given and the embedded model gpt2-demo was not found next to the executable or in .*; pass --model DIR$" "$work/err"; } ||
    { echo "FAILED E301: status $status: $(cat "$work/err")"; failures=$((failures + 1)); }
fi
mkdir -p "$work/no_config"
check E302 1 "$work/no_config/config.json: cannot open: No such file or directory" "$loupe" info --model "$work/no_config"
dir=$(model config_dir) && rm "$dir/config.json" && mkdir "$dir/config.json"
check E303 1 "$dir/config.json: read failed" "$loupe" info --model "$dir"
dir=$(model config_big) && head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$dir/config.json"
check E304 1 "$dir/config.json: larger than the limit of 1048576 bytes" "$loupe" info --model "$dir"
dir=$(model config_bad) && printf '{"model_type": "gpt2",\n  "n_layer" 3}' >"$dir/config.json"
check E305 1 "$dir/config.json: invalid JSON at byte offset 35" "$loupe" info --model "$dir"
dir=$(model config_trailing) && printf '{} {}' >"$dir/config.json"
check E306 1 "$dir/config.json: invalid JSON at byte offset 3: unexpected text after the value" "$loupe" info --model "$dir"
dir=$(model config_array) && printf '[1, 2]' >"$dir/config.json"
check E307 1 "$dir/config.json: top level is an array, expected an object" "$loupe" info --model "$dir"
dir=$(config no_type 'del c["model_type"]')
check E308 1 "$dir/config.json: model_type missing" "$loupe" info --model "$dir"
dir=$(config mamba 'c["model_type"] = "mamba"')
check E309 1 "$dir/config.json: model_type \"mamba\" is not supported \(supported: gpt2, llama, mistral, qwen2, qwen3, gemma, gpt_neox\)" "$loupe" info --model "$dir"
dir=$(config no_layers 'del c["n_layer"]')
check E310 1 "$dir/config.json: n_layer missing \(nor is there num_hidden_layers\)" "$loupe" info --model "$dir"
dir=$(config string_width 'c["n_embd"] = "32"')
check E311 1 "$dir/config.json: n_embd is a string, expected a positive integer" "$loupe" info --model "$dir"
dir=$(config half_head 'c["n_head"] = 1.5')
check E312 1 "$dir/config.json: n_head is 1.5, expected a positive integer" "$loupe" info --model "$dir"
dir=$(config many_layers 'c["n_layer"] = 5000')
check E313 1 "$dir/config.json: n_layer is 5000, above the limit of 1024" "$loupe" info --model "$dir"
dir=$(config wide 'c["n_embd"] = 100000')
check E314 1 "$dir/config.json: n_embd is 100000, above the limit of 65536" "$loupe" info --model "$dir"
dir=$(config big_vocab 'c["vocab_size"] = 10**9')
check E315 1 "$dir/config.json: vocab_size is 1000000000, above the limit of 4194304" "$loupe" info --model "$dir"
dir=$(config long_context 'c["n_positions"] = 2**21')
check E316 1 "$dir/config.json: n_positions is 2097152, above the limit of 1048576" "$loupe" info --model "$dir"
dir=$(config odd_heads 'c["n_head"] = 5')
check E317 1 "$dir/config.json: n_embd 32 is not divisible by n_head 5" "$loupe" info --model "$dir"
dir=$(config epsilon 'c["layer_norm_epsilon"] = -1')
check E318 1 "$dir/config.json: layer_norm_epsilon is -1, expected a positive number" "$loupe" info --model "$dir"
dir=$(config tie 'c["tie_word_embeddings"] = "yes"')
check E319 1 "$dir/config.json: tie_word_embeddings is a string, expected true or false" "$loupe" info --model "$dir"
dir=$(config activation_type 'c["activation_function"] = 3')
check E320 1 "$dir/config.json: activation_function is a number, expected a string" "$loupe" info --model "$dir"
dir=$(config activation_long 'c["activation_function"] = "g" * 40')
check E321 1 "$dir/config.json: activation_function is 40 bytes long, the limit is 31" "$loupe" info --model "$dir"
dir=$(config architectures 'c["architectures"] = "GPT2LMHeadModel"')
check E322 1 "$dir/config.json: architectures is a string, expected an array" "$loupe" info --model "$dir"
dir=$(config swish 'c["activation_function"] = "swish"')
check E323 1 "$dir/config.json: activation_function 'swish' is not supported \(gelu_new, gelu_pytorch_tanh, gelu, relu, silu are\)" \
  "$loupe" info --model "$dir"
check E324 1 "$work/nowhere: no such folder" "$loupe" info --model "$work/nowhere"
dir=$(model not_a_folder)
check E325 1 "$dir/config.json: not a folder" "$loupe" info --model "$dir/config.json"

# ------------------------------------------------- rotary families' config.json
dir=$(llama_config rope_yarn 'c["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}')
check E330 1 "$dir/config.json: rope_parameters.rope_type \"yarn\" is not supported \(supported: default, linear, llama3\)" \
  "$loupe" info --model "$dir"
dir=$(llama_config rope_llama3 'del c["rope_parameters"]; c["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0}')
check E331 1 "$dir/config.json: rope_scaling.low_freq_factor missing \(rope type llama3 needs it\)" "$loupe" info --model "$dir"
dir=$(llama_config rope_bands 'c["rope_parameters"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}')
check E332 1 "$dir/config.json: rope_parameters.high_freq_factor 1 must be above low_freq_factor 4" "$loupe" info --model "$dir"
dir=$(llama_config rope_object 'c["rope_scaling"] = "linear"; del c["rope_parameters"]')
check E333 1 "$dir/config.json: rope_scaling is a string, expected an object" "$loupe" info --model "$dir"
dir=$(llama_config rotary_odd 'c["rope_parameters"]["partial_rotary_factor"] = 0.375')
check E334 1 "$dir/config.json: the rotary width \(head_dim 8 x partial_rotary_factor 0.375 = 3\) must be even and at least 2" \
  "$loupe" info --model "$dir"
dir=$(llama_config qwen_window 'c["model_type"] = "qwen2"; c["use_sliding_window"] = True')
check E335 1 "$dir/config.json: use_sliding_window true is not supported \(false is\)" "$loupe" info --model "$dir"
dir=$(llama_config kv_heads 'c["num_key_value_heads"] = 3')
check E336 1 "$dir/config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 3" "$loupe" info --model "$dir"
dir=$(llama_config head_width 'c["head_dim"] = 60000')
check E337 1 "$dir/config.json: num_attention_heads x head_dim is 240000, above the limit of 65536" "$loupe" info --model "$dir"
dir=$(llama_config neox_kv 'c["model_type"] = "gpt_neox"')
check E338 1 "$dir/config.json: num_key_value_heads 2 must equal num_attention_heads 4" "$loupe" info --model "$dir"
dir=$(llama_config partial_big 'c["rope_parameters"]["partial_rotary_factor"] = 1.5')
check E339 1 "$dir/config.json: partial_rotary_factor 1.5 is above 1" "$loupe" info --model "$dir"
dir=$(llama_config narrow 'c["hidden_size"] = 2; del c["head_dim"]')
check E340 1 "$dir/config.json: hidden_size 2 is narrower than num_attention_heads 4" "$loupe" info --model "$dir"

# ---------------------------------------------------------------- safetensors
dir=$(model no_weights) && rm "$dir/model.safetensors"
check E401 1 "$dir: neither model.safetensors nor model.safetensors.index.json found" "$loupe" info --model "$dir"
dir=$(model pickle) && rm "$dir/model.safetensors" && printf 'PK' >"$dir/pytorch_model.bin"
check E429 1 "$dir: only pytorch_model.bin found \(PyTorch pickle\); loupe reads safetensors: convert with python3 -c \"import sys, transformers as t; t\.AutoModelForCausalLM\.from_pretrained\(sys\.argv\[1\]\)\.save_pretrained\(sys\.argv\[1\], safe_serialization=True\)\" $dir" \
  "$loupe" info --model "$dir"
dir=$(model short) && printf 'abc' >"$dir/model.safetensors"
check E402 1 "$dir/model.safetensors: file is 3 bytes, too short for the 8-byte header length" "$loupe" info --model "$dir"
dir=$(model huge_header) && printf '\x00\x00\x00\x10\x00\x00\x00\x00{}' >"$dir/model.safetensors"
check E403 1 "$dir/model.safetensors: header length 268435456 exceeds the limit of 100000000 bytes" "$loupe" info --model "$dir"
dir=$(model past_end) && printf '\x64\x00\x00\x00\x00\x00\x00\x00{}' >"$dir/model.safetensors"
check E404 1 "$dir/model.safetensors: header length 100 runs past the end of the file \(10 bytes\)" "$loupe" info --model "$dir"
dir=$(safetensors bad_json '{"a": ' 0)
check E405 1 "$dir/model.safetensors: invalid JSON at byte offset 5" "$loupe" info --model "$dir"
mkdir -p "$work/values_limit" && cp "$tiny/config.json" "$work/values_limit/" && dir=$work/values_limit
python3 - "$dir/model.safetensors" <<'PY'
import struct, sys
header = b"[" + b"0," * (1 << 24) + b"0]"
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header)
PY
check E406 1 "$dir/model.safetensors: JSON with 16777218 values, more than the limit of 16777216" "$loupe" info --model "$dir"
dir=$(safetensors header_array '[]' 0)
check E407 1 "$dir/model.safetensors: header is an array, expected a JSON object" "$loupe" info --model "$dir"
dir=$(safetensors metadata '{"__metadata__": {"format": 1}}' 0)
check E408 1 "$dir/model.safetensors: __metadata__ 'format' is a number, expected a string" "$loupe" info --model "$dir"
dir=$(safetensors entry '{"x": 5}' 0)
check E409 1 "$dir/model.safetensors: tensor 'x': entry is a number, expected an object" "$loupe" info --model "$dir"
dir=$(safetensors no_dtype '{"x": {"shape": [], "data_offsets": [0, 4]}}' 4)
check E410 1 "$dir/model.safetensors: tensor 'x': dtype missing" "$loupe" info --model "$dir"
dir=$(safetensors f8 '{"x": {"dtype": "F8", "shape": [], "data_offsets": [0, 1]}}' 1)
check E411 1 "$dir/model.safetensors: tensor 'x': unknown dtype \"F8\"" "$loupe" info --model "$dir"
dir=$(safetensors no_shape '{"x": {"dtype": "F32", "data_offsets": [0, 4]}}' 4)
check E412 1 "$dir/model.safetensors: tensor 'x': shape missing" "$loupe" info --model "$dir"
dir=$(safetensors dims '{"x": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]}}' 4)
check E413 1 "$dir/model.safetensors: tensor 'x': shape has 9 dims, more than the limit of 8" "$loupe" info --model "$dir"
dir=$(safetensors negative_dim '{"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}' 4)
check E414 1 "$dir/model.safetensors: tensor 'x': shape dim 0 is not a non-negative integer, expected a non-negative integer" \
  "$loupe" info --model "$dir"
dir=$(safetensors overflow '{"x": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}' 4)
check E415 1 "$dir/model.safetensors: tensor 'x': element count of shape \[4294967296, 4294967296\] overflows 64 bits" \
  "$loupe" info --model "$dir"
dir=$(safetensors byte_overflow '{"x": {"dtype": "F64", "shape": [4294967296, 536870912], "data_offsets": [0, 4]}}' 4)
check E416 1 "$dir/model.safetensors: tensor 'x': byte size of shape \[4294967296, 536870912\] of F64 overflows 64 bits" \
  "$loupe" info --model "$dir"
dir=$(safetensors no_offsets '{"x": {"dtype": "F32", "shape": []}}' 4)
check E417 1 "$dir/model.safetensors: tensor 'x': data_offsets missing" "$loupe" info --model "$dir"
dir=$(safetensors offsets_three '{"x": {"dtype": "F32", "shape": [], "data_offsets": [0, 4, 8]}}' 4)
check E418 1 "$dir/model.safetensors: tensor 'x': data_offsets must be an array \[begin, end\]" "$loupe" info --model "$dir"
dir=$(safetensors offsets_negative '{"x": {"dtype": "F32", "shape": [], "data_offsets": [-4, 0]}}' 4)
check E419 1 "$dir/model.safetensors: tensor 'x': data_offsets must be non-negative integers" "$loupe" info --model "$dir"
dir=$(safetensors offsets_reversed '{"x": {"dtype": "F32", "shape": [], "data_offsets": [4, 0]}}' 4)
check E420 1 "$dir/model.safetensors: tensor 'x': data_offsets \[4, 0\] end before they begin" "$loupe" info --model "$dir"
dir=$(safetensors size '{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}' 4)
check E421 1 "$dir/model.safetensors: tensor 'x': data_offsets \[0, 4\] give 4 bytes, shape \[2\] of F32 needs 8" \
  "$loupe" info --model "$dir"
dir=$(safetensors twice '{"x": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, "x": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]}}' 8)
check E422 1 "$dir/model.safetensors: tensor 'x' appears twice in the header" "$loupe" info --model "$dir"
dir=$(safetensors overlap '{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "y": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]}}' 8)
check E423 1 "$dir/model.safetensors: tensor 'y': data_offsets \[4, 8\] overlap tensor 'x', which ends at 8" \
  "$loupe" info --model "$dir"
dir=$(safetensors gap_first '{"x": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]}}' 8)
check E424 1 "$dir/model.safetensors: tensor 'x': data_offsets begin at 4, leaving a gap: the first tensor must begin at 0" \
  "$loupe" info --model "$dir"
dir=$(safetensors gap '{"x": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, "y": {"dtype": "F32", "shape": [], "data_offsets": [8, 12]}}' 12)
check E425 1 "$dir/model.safetensors: tensor 'y': data_offsets begin at 8, leaving a gap after tensor 'x', which ends at 4" \
  "$loupe" info --model "$dir"
dir=$(safetensors extra '{"x": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}' 6)
check E426 1 "$dir/model.safetensors: data section has 6 bytes but the tensors cover only 4" "$loupe" info --model "$dir"
dir=$(model truncated) && head -c 100000 "$tiny/model.safetensors" >"$dir/model.safetensors"
check E427 1 "$dir/model.safetensors: tensors need [0-9]+ bytes but the data section has only [0-9]+ \(file truncated\?\)" \
  "$loupe" info --model "$dir"
mkdir -p "$work/many_tensors" && cp "$tiny/config.json" "$work/many_tensors/"
python3 - "$work/many_tensors/model.safetensors" <<'PY'
import struct, sys
entries = ",".join('"%x":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}' % i for i in range(1048577))
header = ("{" + entries + "}").encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header)
PY
check E428 1 "$work/many_tensors/model.safetensors: more than 1048576 tensors" "$loupe" info --model "$work/many_tensors"

# ---------------------------------------------------------------- sharded checkpoints
shard() { # shard NAME INDEX_TEXT: a tiny model whose weights are one shard named by an index
  local dir
  dir=$(model "$1")
  mv "$dir/model.safetensors" "$dir/part-1.safetensors"
  printf '%s' "$2" >"$dir/model.safetensors.index.json"
  echo "$dir"
}
dir=$(shard index_array '[]')
check E501 1 "$dir/model.safetensors.index.json: top level is an array, expected an object" "$loupe" info --model "$dir"
dir=$(shard no_map '{"metadata": {}}')
check E502 1 "$dir/model.safetensors.index.json: weight_map is missing, expected an object" "$loupe" info --model "$dir"
dir=$(shard map_number '{"weight_map": {"lm_head.weight": 3}}')
check E503 1 "$dir/model.safetensors.index.json: weight_map: tensor 'lm_head.weight' maps to a number, expected a file name" \
  "$loupe" info --model "$dir"
dir=$(shard escape '{"weight_map": {"x": "../part-1.safetensors"}}')
check E504 1 "$dir/model.safetensors.index.json: weight_map: tensor 'x' names shard \"../part-1.safetensors\", which is not a plain file name in the folder" \
  "$loupe" info --model "$dir"
dir=$(shard empty_map '{"weight_map": {}}')
check E505 1 "$dir/model.safetensors.index.json: weight_map lists no tensors" "$loupe" info --model "$dir"
dir=$(shard missing_shard '{"weight_map": {"transformer.wte.weight": "part-2.safetensors"}}')
check E506 1 "$dir/part-2.safetensors: cannot open: No such file or directory" "$loupe" info --model "$dir"
dir=$(shard wrong_shard '{"weight_map": {"lm_head.weight": "part-1.safetensors"}}')
check E507 1 "$dir/model.safetensors.index.json: weight_map puts tensor 'lm_head.weight' in part-1.safetensors, but that shard has no such tensor" \
  "$loupe" info --model "$dir"
dir=$(shard both '{"weight_map": {"transformer.wte.weight": "part-1.safetensors", "transformer.wpe.weight": "part-2.safetensors"}}')
cp "$dir/part-1.safetensors" "$dir/part-2.safetensors"
check E508 1 "$dir/part-2.safetensors: tensor '[^']+' is also in $dir/part-1.safetensors" "$loupe" info --model "$dir"
dir=$(shard big_index '') && truncate -s $((64 * 1024 * 1024 + 1)) "$dir/model.safetensors.index.json"
check E509 1 "$dir/model.safetensors.index.json: larger than the limit of 67108864 bytes" "$loupe" info --model "$dir"

# ---------------------------------------------------------------- tensors against config.json
dir=$(weights renamed 'h["transformer.h.1.ln_1.weightx"] = h.pop("transformer.h.1.ln_1.weight")')
check E601 1 "$dir: tensor 'transformer.h.1.ln_1.weight' not found \(also tried with \"transformer.\" added or removed\)" \
  "$loupe" info --model "$dir"
dir=$(weights reshaped 'h["transformer.wpe.weight"]["shape"] = [32, 64]')
check E602 1 "$dir/model.safetensors: tensor 'transformer.wpe.weight': expected shape \[64, 32\], found \[32, 64\]" \
  "$loupe" info --model "$dir"
dir=$(weights integer 'h["transformer.ln_f.bias"]["dtype"] = "I32"')
check E603 1 "$dir/model.safetensors: tensor 'transformer.ln_f.bias': dtype I32 is not a floating-point type" \
  "$loupe" info --model "$dir"
dir=$(config untied 'c["tie_word_embeddings"] = False')
check E604 1 "$dir: missing tensor 'lm_head.weight' \(config.json: tie_word_embeddings is false\)" "$loupe" info --model "$dir"

# ---------------------------------------------------------------- vocab.json
dir=$(tokenizer no_vocab '' '') && rm "$dir/vocab.json"
check E701 1 "$dir/vocab.json: cannot open: No such file or directory" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer vocab_json 'raw:{"a": 1,}' '')
check E702 1 "$dir/vocab.json: invalid JSON at byte offset 8" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer vocab_array 'raw:["a"]' '')
check E703 1 "$dir/vocab.json: expected an object mapping tokens to ids, found an array" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer vocab_empty 'raw:{}' '')
check E704 1 "$dir/vocab.json: the vocabulary is empty" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer negative 'v["ab"] = -1' '')
check E705 1 "$dir/vocab.json: key \"ab\": negative id -1" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer fraction 'v["ab"] = 256.5' '')
check E706 1 "$dir/vocab.json: key \"ab\": id 256.5 is not a whole number" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer id_string 'v["ab"] = "256"' '')
check E707 1 "$dir/vocab.json: key \"ab\": id is a string, not an integer" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer sparse 'v["ab"] = 300' '')
check E708 1 "$dir/vocab.json: key \"ab\": id 300 is out of range: ids must be dense 0..256" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer duplicate_id 'v["ab"] = 7' '')
check E709 1 "$dir/vocab.json: key \"ab\": duplicate id 7 \(also \"ć\"\)" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer empty_token 'v[""] = 256' '')
check E710 1 "$dir/vocab.json: key \"\": empty token" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer bad_utf8 '' '') && printf '{"\xff": 0}' >"$dir/vocab.json"
check E711 1 "$dir/vocab.json: key \".\": invalid UTF-8" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer no_byte 'v["a\u0400"] = 256' '')
check E712 1 "$dir/vocab.json: key \"aЀ\": character U\+0400 stands for no byte in a byte-level vocabulary" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer duplicate_key 'raw:{"a": 0, "a": 1}' '')
check E713 1 "$dir/vocab.json: key \"a\": duplicate key" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer missing_byte 'v["ab"] = v.pop("a")' '')
check E714 1 "$dir/vocab.json: no token for byte 0x61 \(key \"a\"\): every byte needs one" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer vocab_big '' '') && truncate -s $((64 * 1024 * 1024 + 1)) "$dir/vocab.json"
check E715 1 "$dir/vocab.json: larger than the limit of 67108864 bytes" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer vocab_many '' '')
python3 -c '
import sys
sys.stdout.write("{" + ",".join("\"%x\":0" % i for i in range(4194305)) + "}")' >"$dir/vocab.json"
check E716 1 "$dir/vocab.json: 4194305 tokens, more than the limit of 4194304" "$loupe" tokenize --model "$dir" x

dir=$(tokenizer no_bos '' '#version: 0.2\n')
check E210 1 "--bos: the tokenizer of $dir has no BOS token" "$loupe" tokenize --model "$dir" --bos x

# ---------------------------------------------------------------- tokenizer_config.json and the others
# added_tokens NAME FILE JSON: a bytes-only tokenizer folder with FILE holding JSON.
added_tokens() {
  local dir
  dir=$(tokenizer "$1" '' '#version: 0.2\n')
  printf '%s' "$3" >"$dir/$2"
  echo "$dir"
}
dir=$(added_tokens config_array tokenizer_config.json '[]')
check E1801 1 "$dir/tokenizer_config.json: expected a JSON object, got an array" "$loupe" tokenize --model "$dir" x
dir=$(added_tokens decoder_key tokenizer_config.json '{"added_tokens_decoder": {"x": {"content": "a"}}}')
check E1802 1 "$dir/tokenizer_config.json: added_tokens_decoder\[\"x\"\]: the key is not a token id 0 \.\. 2147483647" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens decoder_entry tokenizer_config.json '{"added_tokens_decoder": {"3": "a"}}')
check E1803 1 "$dir/tokenizer_config.json: added_tokens_decoder\[\"3\"\]: expected an object, got a string" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens content tokenizer_config.json '{"added_tokens_decoder": {"3": {"content": 5}}}')
check E1804 1 "$dir/tokenizer_config.json: added_tokens_decoder\[\"3\"\]\.content: expected a string, got a number" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens flag special_tokens_map.json '{"eos_token": {"content": "a", "lstrip": 1}}')
check E1805 1 "$dir/special_tokens_map.json: eos_token\.lstrip: expected true or false, got a number" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens special_type tokenizer_config.json '{"bos_token": 7}')
check E1806 1 "$dir/tokenizer_config.json: bos_token: expected a string or an object, got a number" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens additional special_tokens_map.json '{"additional_special_tokens": "<a>"}')
check E1807 1 "$dir/special_tokens_map.json: additional_special_tokens: expected a list, got a string" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens added_id added_tokens.json '{"<a>": "1"}')
check E1808 1 "$dir/added_tokens.json: \"<a>\": expected a token id 0 \.\. 2147483647, got a string" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens long_content tokenizer_config.json "{\"pad_token\": \"$(head -c 4097 /dev/zero | tr '\0' a)\"}")
check E1809 1 "$dir/tokenizer_config.json: pad_token\.content: 4097 bytes, longer than the limit of 4096" \
  "$loupe" tokenize --model "$dir" x
dir=$(added_tokens big_config tokenizer_config.json '')
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$dir/tokenizer_config.json"
check E1810 1 "$dir/tokenizer_config.json: larger than the limit of 16777216 bytes" "$loupe" tokenize --model "$dir" x

# ---------------------------------------------------------------- merges.txt
dir=$(tokenizer no_merges '' '') && rm "$dir/merges.txt"
check E801 1 "$dir/merges.txt: cannot open: No such file or directory" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer merge_line 'v["ab"] = 256' '#version: 0.2\na b c\n')
check E802 1 "$dir/merges.txt:2: expected two tokens separated by one space, found \"a b c\"" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer disagree '' '#version: 0.2\na b\n')
check E803 1 "$dir/merges.txt:2: vocab/merges disagree: the merged token of \"a b\" is not in vocab.json" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer repeat 'v["ab"] = 256' '#version: 0.2\na b\na b\n')
check E804 1 "$dir/merges.txt:3: repeats the merge \"a b\" of rank 0" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer blank 'v["ab"] = 256; v["abc"] = 257' '#version: 0.2\na b\n\nab c\n')
check E805 1 "$dir/merges.txt:3: blank line inside the merges \(only trailing blank lines are allowed\)" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer merges_many '' '')
head -c 4194310 /dev/zero | tr '\0' '\n' >"$dir/merges.txt"
check E806 1 "$dir/merges.txt: 4194311 lines, more than the limit of 4194304 merges" "$loupe" tokenize --model "$dir" x

# ---------------------------------------------------------------- running
dir=$(model mismatch) && cp "$demo/vocab.json" "$demo/merges.txt" "$dir/"
check E901 1 "token id [0-9]+ at position [0-9]+ is outside the vocabulary \(0 .. 999\)" \
  "$loupe" next --model "$dir" "The quick brown fox"
checked+=(E902)
"$loupe" lens --format csv "x" >/dev/full 2>"$work/err"
status=$?
if [ -e /dev/full ]; then
  { [ "$status" -eq 1 ] && grep -qx "loupe: writing the output failed" "$work/err"; } ||
    { echo "FAILED E902: status $status: $(cat "$work/err")"; failures=$((failures + 1)); }
fi

# ---------------------------------------------------------------- the environment: LOUPE_CPU
check E903 1 "LOUPE_CPU='avx3': not a level \(portable, avx2 or avx512\)" env LOUPE_CPU=avx3 "$loupe" next x
# E904 needs a CPU without a level; on one that has them all it cannot be produced.
lacking=""
for level in avx512 avx2; do
  LOUPE_CPU=$level "$loupe" next x >/dev/null 2>&1 || lacking=$level
done
if [ -n "$lacking" ]; then
  check E904 1 "LOUPE_CPU=$lacking: this CPU has only (portable|avx2)" env LOUPE_CPU=$lacking "$loupe" next x
else
  checked+=(E904)
  echo "E904: this CPU has every level: not reproducible here"
fi

# LOUPE_CPU=avx2 turns the BF16 instructions off on any CPU
check E2121 1 "--precision bf16: this CPU has no AVX512_BF16 \(vdpbf16ps\) at the level in force \((portable|avx2)\); use --precision f32" \
  env LOUPE_CPU=avx2 "$loupe" lens --precision bf16 x

# ---------------------------------------------------------------- corpus and count: the command line
printf 'In the beginning God created the heaven and the earth.\n\nAnd God said, Let there be light.\n' >"$work/corpus.txt"
corpus=$work/corpus.txt
check E1001 2 "corpus: no corpus file given \(use '-' for standard input\)" "$loupe" corpus
check E1002 2 "--stride: expected a whole number from 1 to 16777216, got '0'" "$loupe" corpus --stride 0 "$corpus"
check E1003 2 "--min-context: expected a whole number from 0 to 16777216, got 'some'" \
  "$loupe" corpus --min-context some "$corpus"
check E1004 2 "--max-tokens: expected a whole number from 1 to 9223372036854775807, got '0'" \
  "$loupe" corpus --max-tokens 0 "$corpus"
check E1005 2 "--reservoir: expected a whole number from 4 to 16777216, got '2'" "$loupe" corpus --reservoir 2 "$corpus"
check E1006 2 "--sketch-error: expected a number from 0.0001 to 0.5, got '1'" "$loupe" corpus --sketch-error 1 "$corpus"
check E1007 2 "stride must be 1 .. 511 \(the context minus 1\), not 600" "$loupe" corpus --stride 600 "$corpus"
check E1008 2 "min-context must be 0 .. 255 \(context - stride - 1, the least context a position has after the first window\), not 300" \
  "$loupe" corpus --min-context 300 "$corpus"
check E1009 2 "--format: expected one of table, json, csv, got 'xml'" "$loupe" corpus --format xml "$corpus"
check E1010 2 "--progress: expected one of auto, always, never, got 'sometimes'" \
  "$loupe" corpus --progress sometimes "$corpus"

# ---------------------------------------------------------------- corpus files
check E1101 1 "$work/nocorpus.txt: cannot open: No such file or directory" "$loupe" count "$work/nocorpus.txt"
mkdir -p "$work/corpus_dir"
check E1102 1 "$work/corpus_dir: read failed: Is a directory" "$loupe" count "$work/corpus_dir"
{ printf 'a short document\n\n'; head -c $((64 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a'; } >"$work/huge_document.txt"
check E1103 1 "$work/huge_document.txt:3: a document longer than 67108864 bytes" "$loupe" count "$work/huge_document.txt"
rm -f "$work/huge_document.txt"
printf '{"text": "one"}\nnot json\n' >"$work/invalid.jsonl"
check E1104 0 "warning: $work/invalid.jsonl:2: invalid JSON at byte offset 0 \(skipped\)" "$loupe" count "$work/invalid.jsonl"
printf '{"text": "one"}\n["two"]\n' >"$work/array.jsonl"
check E1105 0 "warning: $work/array.jsonl:2: the line is an array, expected an object \(skipped\)" \
  "$loupe" count "$work/array.jsonl"
printf '{"text": "one"}\n\n{"title": "two"}\n' >"$work/no_text.jsonl"
check E1106 0 "warning: $work/no_text.jsonl:3: no \"text\" field \(skipped\)" "$loupe" count "$work/no_text.jsonl"
printf '{"text": 2}\n' >"$work/text_number.jsonl"
check E1107 0 "warning: $work/text_number.jsonl:1: \"text\" is a number, expected a string \(skipped\)" \
  "$loupe" count "$work/text_number.jsonl"
check E1108 1 "$work/invalid.jsonl:2: invalid JSON at byte offset 0" "$loupe" count --strict "$work/invalid.jsonl"
check E1109 1 "$corpus: the document separator is empty" "$loupe" count --separator= "$corpus"
check E1110 1 "$corpus: a separator applies to plain text, not JSONL" "$loupe" count --jsonl --separator '<|endoftext|>' "$corpus"

# ---------------------------------------------------------------- counts files
check E1201 1 "$work/nocounts.tsv: cannot open: No such file or directory" \
  "$loupe" corpus --counts "$work/nocounts.tsv" "$corpus"
printf '# loupe count\nid\ttoken\tcount\n5 x 3\n' >"$work/spaces.tsv"
check E1202 1 "$work/spaces.tsv:3: expected ID<TAB>TOKEN<TAB>COUNT" "$loupe" corpus --counts "$work/spaces.tsv" "$corpus"
printf 'id\ttoken\tcount\n13\tx\t3\n50257\tx\t1\n' >"$work/big_id.tsv"
check E1203 1 "$work/big_id.tsv:3: the id '50257' is not a whole number below 50257" \
  "$loupe" corpus --counts "$work/big_id.tsv" "$corpus"
printf '13\tx\tmany\n' >"$work/bad_count.tsv"
check E1204 1 "$work/bad_count.tsv:1: the count 'many' is not a whole number" \
  "$loupe" corpus --counts "$work/bad_count.tsv" "$corpus"
printf '13\tx\t3\n7\ty\t2\n13\tz\t1\n' >"$work/twice.tsv"
check E1205 1 "$work/twice.tsv:3: id 13 appears twice" "$loupe" corpus --counts "$work/twice.tsv" "$corpus"
truncate -s $((256 * 1024 * 1024 + 1)) "$work/huge.tsv"
check E1206 1 "$work/huge.tsv: larger than the limit of 268435456 bytes" "$loupe" corpus --counts "$work/huge.tsv" "$corpus"
rm -f "$work/huge.tsv"

# ---------------------------------------------------------------- Ctrl-C
checked+=(E1301)
python3 - "$corpus" "$work/long.corpus" <<'PY'
import sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write("\n\n".join([text.strip()] * 400))
PY
"$loupe" corpus --progress always "$work/long.corpus" >"$work/out" 2>"$work/err" </dev/null &
pid=$!
for _ in $(seq 1200); do grep -q "tokens/s" "$work/err" && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
status=$?
{ [ "$status" -eq 130 ] && tr '\r' '\n' <"$work/err" | sed 's/^\x1b\[K//' |
    grep -qxE "loupe: interrupted: the statistics below cover the [1-9][0-9]* positions scored so far \(partial\)" &&
    grep -q "PARTIAL" "$work/out"; } ||
  { echo "FAILED E1301: status $status: $(tr '\r' '\n' <"$work/err" | tail -3)"; failures=$((failures + 1)); }

# ---------------------------------------------------------------- shards, states and checkpoints
check E2601 2 "--resume continues from a checkpoint: give it with --checkpoint FILE" "$loupe" corpus --resume "$corpus"
check E2602 2 "--max-tokens would limit each shard, not the corpus: not with --shard" \
  "$loupe" corpus --shard 0/2 --max-tokens 5 "$corpus"
check E2603 2 "--shard: expected I/N with 0 <= I < N <= 1048576, got '2/2'" "$loupe" corpus --shard 2/2 "$corpus"
check E2604 2 "corpus-merge: no state file given" "$loupe" corpus-merge
st=$work/states
mkdir -p "$st"
"$loupe" count "$corpus" >"$st/c1.tsv"
awk -F'\t' 'BEGIN { OFS = "\t" } /^[0-9]/ && !done { $3 = $3 + 1; done = 1 } { print }' "$st/c1.tsv" >"$st/c2.tsv"
"$loupe" corpus --shard 0/2 --save-state "$st/s0" "$corpus" >/dev/null
"$loupe" corpus --shard 1/2 --save-state "$st/s1" "$corpus" >/dev/null
"$loupe" corpus --shard 1/3 --save-state "$st/s13" "$corpus" >/dev/null
"$loupe" corpus --shard 1/2 --exact-limit 5 --save-state "$st/other" "$corpus" >/dev/null
"$loupe" corpus --shard 0/2 --counts "$st/c1.tsv" --save-state "$st/k0" "$corpus" >/dev/null
"$loupe" corpus --shard 1/2 --counts "$st/c2.tsv" --save-state "$st/k1" "$corpus" >/dev/null
"$loupe" corpus --checkpoint "$st/ck" "$corpus" >/dev/null
"$loupe" corpus --counts "$st/c1.tsv" --checkpoint "$st/ckc" "$corpus" >/dev/null
# restate IN OUT HOW: a copy of a state with one field changed and the checksum made right again
restate() {
  python3 - "$@" <<'PY'
import struct, sys
src, dst, how = sys.argv[1:4]
raw = bytearray(open(src, "rb").read()[:-8])
(length,) = struct.unpack_from("<Q", raw, 16)
if how == "version":
    struct.pack_into("<I", raw, 8, 2)
elif how == "no-shards":
    struct.pack_into("<I", raw, 24 + length + 4, 0)
elif how == "stats-magic":
    at = raw.index(b"LCST")
    raw[at] = ord("X")
elif how == "no-n_ctx":
    identity = raw[24:24 + length].decode()
    lines = [line for line in identity.split("\n") if not line.startswith("model.n_ctx=")]
    new = "\n".join(lines).encode()
    raw = raw[:16] + struct.pack("<Q", len(new)) + new + raw[24 + length:]
h = 14695981039346656037  # the FNV-1a 64-bit offset basis
for b in raw:
    h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
open(dst, "wb").write(bytes(raw) + struct.pack("<Q", h))
PY
}
"$loupe" corpus --format json "$corpus" >"$st/report.json"
check E2605 1 "$st/report.json: not a loupe corpus state \(no LOUPECS1 at its start\)" "$loupe" corpus-merge "$st/report.json"
restate "$st/s0" "$st/v2" version
check E2606 1 "$st/v2: a corpus state of version 2; this loupe reads version 1" "$loupe" corpus-merge "$st/v2"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[40] ^= 1; open(sys.argv[2], "wb").write(b)' \
  "$st/s0" "$st/flipped"
check E2607 1 "$st/flipped: checksum mismatch: the file is damaged or cut short" "$loupe" corpus-merge "$st/flipped"
restate "$st/s0" "$st/noshards" no-shards
check E2608 1 "$st/noshards: a shard count out of range at byte [0-9]+" "$loupe" corpus-merge "$st/noshards"
restate "$st/s0" "$st/badstats" stats-magic
check E2609 1 "$st/badstats: corpus statistics, the header at byte 4: not encoded corpus statistics \(no \"LCST\"\) \(the statistics start at byte [0-9]+\)" \
  "$loupe" corpus-merge "$st/badstats"
check E2610 1 "$st/s0 and $st/other are states of different runs: stats.exact_limit differs: '10000' vs '5'" \
  "$loupe" corpus-merge "$st/s0" "$st/other"
check E2611 1 "$st/s0 and $st/s13 split the corpus differently: 2 vs 3 shards" "$loupe" corpus-merge "$st/s0" "$st/s13"
check E2612 1 "$st/s0 and $st/s0 overlap: both hold shard 0 of 2" "$loupe" corpus-merge "$st/s0" "$st/s0"
check E2613 1 "$st/k0 and $st/k1: corpus statistics with different token counts cannot be merged" \
  "$loupe" corpus-merge "$st/k0" "$st/k1"
restate "$st/s0" "$st/noctx" no-n_ctx
check E2614 1 "$st/noctx: the corpus state has no 'model.n_ctx'" "$loupe" corpus-merge "$st/noctx"
check E2615 1 "$st/ck: a checkpoint of another run \(this run on the right\): stats.exact_limit differs: '10000' vs '5'" \
  "$loupe" corpus --exact-limit 5 --checkpoint "$st/ck" --resume "$corpus"
check E2616 1 "$st/ck: a checkpoint of shard 0/1, not of this run's 1/2" \
  "$loupe" corpus --shard 1/2 --checkpoint "$st/ck" --resume "$corpus"
check E2617 1 "$st/s0: a saved state, not a checkpoint \(written by --save-state, not --checkpoint\)" \
  "$loupe" corpus --checkpoint "$st/s0" --resume "$corpus"
check E2618 1 "$st/ckc: corpus statistics made with other token counts \(their hash differs\) \(the statistics start at byte [0-9]+\)" \
  "$loupe" corpus --counts "$st/c2.tsv" --checkpoint "$st/ckc" --resume "$corpus"
check E2619 2 "--format csv: not with --certify; use --format json" "$loupe" corpus --format csv --certify "$corpus"

# ---------------------------------------------------------------- pictures: the command line
check E1401 2 "--plot: 'lens.jpg' must end in .png, .svg or .html \(the extension picks the format\)" \
  "$loupe" lens --plot lens.jpg "hello world"
check E1402 2 "--dpi: expected a number from 36 to 1200, got '2000'" "$loupe" lens --dpi 2000 --plot "$work/x.png" "hello world"
"$loupe" lens --format json --topk 2 "And God said, Let there" >"$work/lens.json"
check E1403 2 "plot: expected one lens JSON file \(loupe lens --format json\), got 2 arguments" \
  "$loupe" plot --plot "$work/x.svg" "$work/lens.json" "$work/lens.json"
check E1404 2 "plot: nothing to draw: give --plot FILE and/or --summary FILE" "$loupe" plot "$work/lens.json"
"$loupe" corpus --format json --max-tokens 20 "$data/corpus_small.txt" >"$work/corpus.json"
check E1405 2 "plot: $work/corpus.json is a corpus document: it draws with --plot only \(--summary draws a lens\)" \
  "$loupe" plot --plot "$work/x.svg" --summary "$work/s.svg" "$work/corpus.json"

# ---------------------------------------------------------------- pictures: writing them
check E1501 1 "$work/no_dir/x.png: cannot create the file: No such file or directory" "$loupe" lens --plot "$work/no_dir/x.png" "hello world"
python3 -c 'print("word " * 60)' >"$work/sixty.txt"
check E1502 1 "$work/big.png: the picture would be [0-9]+ x [0-9]+ pixels at 1200 dpi, more than 32767 on a side; lower --dpi" \
  "$loupe" lens --dpi 1200 --plot "$work/big.png" --file "$work/sixty.txt"
check E1503 2 "--plot: '$work/x.jpg' must end in .png, .svg or .html \(the extension picks the format\)" "$loupe" corpus --plot "$work/x.jpg" "$corpus"
checked+=(E1504)
if [ -e /dev/full ]; then
  ln -sf /dev/full "$work/full.svg"
  "$loupe" plot --summary "$work/full.svg" "$work/lens.json" >/dev/null 2>"$work/err"
  status=$?
  { [ "$status" -eq 1 ] && grep -qxE "loupe: $work/full.svg: writing the (SVG|file) failed" "$work/err"; } ||
    { echo "FAILED E1504: status $status: $(cat "$work/err")"; failures=$((failures + 1)); }
fi

# ---------------------------------------------------------------- lens documents (loupe plot)
# lens NAME PYTHON: the saved lens with its dict d changed by PYTHON (or, when
# PYTHON sets the string `text`, that text instead).
lens() {
  python3 - "$work/lens.json" "$work/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
text = None
exec(sys.argv[3])
open(sys.argv[2], "w").write(text if text is not None else json.dumps(d))
PY
  echo "$work/$1.json"
}
plot() { "$loupe" plot --plot "$work/x.svg" "$@"; }
check E1601 1 "$work/nolens.json: cannot open: No such file or directory" plot "$work/nolens.json"
file=$(lens syntax 'text = "{\"schema\": \"loupe.lens/1\",\n \"model\" 3}"')
check E1602 1 "$file: invalid JSON at byte offset 36" plot "$file"
file=$(lens array 'text = "[1, 2]"')
check E1603 1 "$file: the document: expected an object, got an array" plot "$file"
file=$(lens schema 'd["schema"] = "loupe.lens/2"')
check E1604 1 "$file: schema: expected \"loupe.lens/1\" \(a loupe lens --format json document\)" plot "$file"
file=$(lens no_layers 'del d["model"]["n_layer"]')
check E1605 1 "$file: model.n_layer: missing, expected a whole number in 1 .. 4096" plot "$file"
file=$(lens subblocks 'd["options"]["subblocks"] = "yes"')
check E1606 1 "$file: options.subblocks: expected true or false, got a string" plot "$file"
file=$(lens rank 'd["cells"][0][3]["input"]["rank"] = 0')
check E1607 1 "$file: cells\[0\]\[3\].input.rank: expected a whole number in 1 .. 50257, got 0" plot "$file"
file=$(lens prob 'd["cells"][1][2]["top"][0][1] = 1.5')
check E1608 1 "$file: cells\[1\]\[2\].top\[0\]\[1\]: expected a finite number in 0 .. 1, got 1.5" plot "$file"
file=$(lens short_layers 'del d["layers"][-1]')
check E1609 1 "$file: layers: expected 7 items, got 6" plot "$file"
file=$(lens empty_window 'd["positions"] = [3, 3]')
check E1610 1 "$file: positions: \[3, 3\) is empty" plot "$file"
file=$(lens long_text 'd["tokens"][1]["text"] = "x" * 5000')
check E1611 1 "$file: tokens\[1\].text: a string of 5000 bytes, more than 4096" plot "$file"
file=$(lens top 'd["cells"][0][0]["top"] += [[1, 0.1], [2, 0.1]]')
check E1612 1 "$file: cells\[0\]\[0\].top: expected 1 .. 2 \[id, prob\] pairs \(options.topk\), got 4" plot "$file"
file=$(lens target 'd["cells"][2][1]["target"]["id"] = 7')
check E1613 1 "$file: cells\[2\]\[1\].target.id: 7 is not the next token tokens\[2\].id = 531" plot "$file"
file=$(lens no_target 'del d["cells"][2][1]["target"]')
check E1614 1 "$file: cells\[2\]\[1\].target: missing, but only the text's last position has no next token" plot "$file"
dir=$(tokenizer bytes_only '' '#version: 0.2\n')
check E1615 1 "$work/lens.json: token id [0-9]+ is beyond the tokenizer's 256 tokens; give the lens's model with --model" \
  plot --model "$dir" "$work/lens.json"

# ---------------------------------------------------------------- corpus documents (loupe plot)
# saved_corpus NAME PYTHON: the saved corpus document with its dict d changed by PYTHON.
saved_corpus() {
  python3 - "$work/corpus.json" "$work/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d))
PY
  echo "$work/$1.json"
}
file=$(saved_corpus corpus_type 'd["metrics"]["target_rank"][3]["median"] = "3"')
check E1701 1 "$file: metrics.target_rank\[3\].median: expected a number or null, got a string" plot "$file"
file=$(saved_corpus corpus_rows 'd["metrics"]["input_rank"] = d["metrics"]["input_rank"][:3]')
check E1702 1 "$file: metrics.input_rank: expected 7 items \(one per layer\), got 3" plot "$file"
file=$(saved_corpus corpus_fraction 'd["top1_is_target"][0] = 1.5')
check E1703 1 "$file: top1_is_target\[0\]: expected a fraction in 0 .. 1, got 1.5" plot "$file"

# ---------------------------------------------------------------- tokenizer.json
# tokenizer_json NAME JSON: a folder whose tokenizer.json holds JSON.
tokenizer_json() {
  mkdir -p "$work/$1"
  printf '%s' "$2" >"$work/$1/tokenizer.json"
  echo "$work/$1"
}
bpe='"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]'
dir=$(tokenizer_json json_syntax '{"model": ')
check E1901 1 "$dir/tokenizer.json: invalid JSON at byte offset [0-9]+" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json no_model '{}')
check E1902 1 "$dir/tokenizer.json: \"model\" is missing or not an object" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json unigram '{"model": {"type": "Unigram", "vocab": []}}')
check E1903 1 "$dir/tokenizer.json: model type \"Unigram\" is not supported \(supported: BPE\)" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json dropout "{\"model\": {$bpe, \"dropout\": 0.1}}")
check E1904 1 "$dir/tokenizer.json: model.dropout is set: BPE dropout is not supported" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json no_vocab '{"model": {"type": "BPE", "merges": []}}')
check E1905 1 "$dir/tokenizer.json: model.vocab is missing or not an object" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json bad_id '{"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}')
check E1906 1 "$dir/tokenizer.json: model.vocab \"a\": the id is not a whole number >= 0" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json shared_id '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}}')
check E1907 1 "$dir/tokenizer.json: model.vocab: \"a\" and \"b\" share id 0" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json merge_form '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}}')
check E1908 1 "$dir/tokenizer.json: model.merges\[0\]: expected \"left right\" or \[\"left\", \"right\"\]" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json merge_token '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}')
check E1909 1 "$dir/tokenizer.json: model.merges\[0\]: the merged token of \"a\" \+ \"b\" is not in model.vocab" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json unk "{\"model\": {$bpe, \"unk_token\": \"<unk>\"}}")
check E1910 1 "$dir/tokenizer.json: model.unk_token \"<unk>\" is not in model.vocab" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json added "{\"model\": {$bpe}, \"added_tokens\": [{\"id\": 3}]}")
check E1911 1 "$dir/tokenizer.json: added_tokens\[0\]: needs \"id\" and \"content\"" "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json whitespace "{\"model\": {$bpe}, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}")
check E1912 1 "$dir/tokenizer.json: pre_tokenizer type \"Whitespace\" is not supported \(supported: Sequence, Split, ByteLevel, Metaspace\)" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json regex "{\"model\": {$bpe}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}")
check E1913 1 "$dir/tokenizer.json: pre_tokenizer Split: the pattern \"\(\" does not compile: missing closing parenthesis" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json behavior "{\"model\": {$bpe}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Sideways\"}}")
check E1914 1 "$dir/tokenizer.json: pre_tokenizer Split: behavior \"Sideways\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json template "{\"model\": {$bpe}, \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {}}}")
check E1915 1 "$dir/tokenizer.json: post_processor TemplateProcessing: special token \"<s>\" has no \"ids\" under \"special_tokens\"" \
  "$loupe" tokenize --model "$dir" x
dir=$(tokenizer_json too_large '')
truncate -s $((128 * 1024 * 1024 + 1)) "$dir/tokenizer.json"
check E1916 1 "$dir/tokenizer.json: larger than the limit of 134217728 bytes" "$loupe" tokenize --model "$dir" x

# ---------------------------------------------------------------- --track, --contributions, --export
check E2401 2 "--track: ' Paris Hilton' is 2 tokens, not one; track a single token \(its id from loupe tokenize\)" \
  "$loupe" lens --track " Paris Hilton" x
check E2402 2 "--track: 50257 is not a token id below 50257" "$loupe" lens --track 50257 x
check E2403 2 "--track: at most 16 tokens can be tracked" "$loupe" lens $(for i in $(seq 17); do echo --track $i; done) x
check E2404 2 "--token track:2: only 1 token is tracked \(--track\)" "$loupe" lens --track 5 --token track:2 x
check E2405 2 "--track: '' encodes to no token" "$loupe" lens --track "" x
"$loupe" lens --track " Paris" --format json "Paris is" | sed 's/"tracked": \[{"id": 6342/"tracked": [{"id": 6343/' >"$work/tracked.json"
check E2406 1 "$work/tracked.json: cells\[0\]\[0\].tracked\[0\].id: 6343 is not options.track\[0\] = 6342" \
  "$loupe" plot --token track:1 --plot "$work/tracked.svg" "$work/tracked.json"

check E2410 2 "--export: '$work/lens.npy' must end in .safetensors" "$loupe" lens --export "$work/lens.npy" x
check E2411 2 "--export-taps needs --export FILE.safetensors" "$loupe" lens --export-taps x
long_text=$(printf ' x%.0s' $(seq 450))
check E2412 2 "--export-logprobs: 13 rows x 450 positions x 50257 tokens is more than 268435456 floats \(1 GiB\); export fewer rows \(--export-logprobs\) or positions \(--positions\)" \
  "$loupe" lens --subblocks --export "$work/lens.safetensors" --export-logprobs : "$long_text"
check E2413 1 "$work/missing/lens.safetensors: cannot create the file: No such file or directory" \
  "$loupe" lens --export "$work/missing/lens.safetensors" x
check E2414 2 "--track, --contributions and --export apply to one text in one window: not with --batch or --window" \
  "$loupe" lens --track 5 --window 8 x
check E2415 2 "--contributions reads the logit lens's own rows: not with --tuned or --certify" \
  "$loupe" lens --contributions --certify x

# ---------------------------------------------------------------- loupe lens --batch
printf '{"text": "hi"}\n' >"$work/prompts.jsonl"
check E2431 2 "--batch: the prompts come from its file only: give no text, --file or --ids" \
  "$loupe" lens --batch "$work/prompts.jsonl" "hello"
check E2432 2 "--batch writes JSON lines: --format table or csv, --plot and --summary do not apply" \
  "$loupe" lens --batch "$work/prompts.jsonl" --format csv
check E2433 2 "--batch writes every position of each prompt: --positions and --window do not apply" \
  "$loupe" lens --batch "$work/prompts.jsonl" --positions 1:
check E2434 2 "--strict applies to --batch only" "$loupe" lens --strict "hello"
check E2435 1 "$work/no_prompts.jsonl: cannot open: No such file or directory" "$loupe" lens --batch "$work/no_prompts.jsonl"
printf '{"text": "hi"}\n{"text": \n' >"$work/bad_json.jsonl"
check E2436 0 "warning: $work/bad_json.jsonl:2: invalid JSON at byte offset 8 \(skipped\)" "$loupe" lens --batch "$work/bad_json.jsonl"
printf '{"text": "hi", "ids": [1]}\n' >"$work/both.jsonl"
check E2437 0 "warning: $work/both.jsonl:1: expected an object with either \"text\" \(a string\) or \"ids\" \(an array of token ids\) \(skipped\)" \
  "$loupe" lens --batch "$work/both.jsonl"
printf '\n{"ids": [464, 50257]}\n' >"$work/bad_id.jsonl"
check E2438 0 "warning: $work/bad_id.jsonl:2: ids\[1\]: expected a token id from 0 to 50256 \(skipped\)" "$loupe" lens --batch "$work/bad_id.jsonl"
printf '{"text": "hi", "id": {}}\n' >"$work/bad_key.jsonl"
check E2439 0 "warning: $work/bad_key.jsonl:1: \"id\" is an object, expected a string or a number \(skipped\)" "$loupe" lens --batch "$work/bad_key.jsonl"
printf '{"ids": []}\n' >"$work/empty.jsonl"
check E2440 0 "warning: $work/empty.jsonl:1: the prompt has no tokens \(skipped\)" "$loupe" lens --batch "$work/empty.jsonl"
python3 -c 'import json; print(json.dumps({"ids": [464] * 513}))' >"$work/long.jsonl"
check E2441 0 "warning: $work/long.jsonl:1: 513 tokens are more than the model's context of 512 \(skipped\)" "$loupe" lens --batch "$work/long.jsonl"
check E2442 1 "$work/empty.jsonl:1: the prompt has no tokens" "$loupe" lens --batch "$work/empty.jsonl" --strict

# ---------------------------------------------------------------- loupe lens --window
check E2443 1 "window of 600 tokens is longer than the model's context of 512" "$loupe" lens --window 600 "hello world"
check E2444 2 "--stride applies to --window only" "$loupe" lens --stride 3 "hello world"
check E2445 2 "--stride: expected a whole number from 1 to 9 \(the window minus 1\), got '10'" \
  "$loupe" lens --window 10 --stride 10 "hello world"

# ---------------------------------------------------------------- loupe compare
check E2446 2 "compare: give two models, --model A --model B \(got 1\)" "$loupe" compare --model "$demo" "hello"
check E2447 2 "compare: --model given more than twice" "$loupe" compare --model "$demo" --model "$demo" --model "$demo" "hello"
check E2448 2 "--format: expected one of table, json, got 'csv'" "$loupe" compare --model "$demo" --model "$demo" --format csv "hello"
check E2449 2 "compare: --plot draws .png or .svg, not .html" "$loupe" compare --model "$demo" --model "$demo" --plot "$work/c.html" "hello"
mkdir -p "$work/tiny_with_tokenizer"
cp "$tiny/config.json" "$tiny/model.safetensors" "$demo/vocab.json" "$demo/merges.txt" "$work/tiny_with_tokenizer/"
check E2450 1 "the models have 6 and 3 layers: the lens rows must match" \
  "$loupe" compare --model "$demo" --model "$work/tiny_with_tokenizer" --ids 1,2
mkdir -p "$work/other_tokens"
for f in "$demo"/*; do ln -s "$f" "$work/other_tokens/"; done
echo '{"God": 50257}' >"$work/other_tokens/added_tokens.json"
check E2451 1 "compare: the two models' tokenizers encode the text differently, from token 1 on \(2 and 3 tokens\)" \
  "$loupe" compare --model "$demo" --model "$work/other_tokens" "And God"

# ---------------------------------------------------------------- loupe plot A.json B.json
findings=$here/../../docs/findings
"$loupe" lens --format json "hello world" >"$work/overlay_lens.json"
check E2452 1 "plot: $work/overlay_lens.json is not a corpus document: several files overlay saved loupe corpus --format json reports" \
  "$loupe" plot --plot "$work/o.svg" "$findings/gpt2-demo-full.json" "$work/overlay_lens.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d["layers"] = d["layers"][:-1]; d["rarity"] = None
d["metrics"] = {k: v[:-1] for k, v in d["metrics"].items()}
for k in ["top1_is_final_top1", "top1_is_target", "decision_layer"]: d[k] = d[k][:-1]
json.dump(d, open(sys.argv[2], "w"))' "$findings/gpt2-demo-relu-full.json" "$work/fewer.json"
check E2453 1 "plot: $work/fewer.json has other layers than $findings/gpt2-demo-full.json \(6 rows and 7\): the reports must have the same rows" \
  "$loupe" plot --plot "$work/o.svg" "$findings/gpt2-demo-full.json" "$work/fewer.json"
f=$findings/gpt2-demo-full.json
check E2454 2 "plot: at most 7 corpus reports in one figure, got 8" "$loupe" plot --plot "$work/o.svg" "$f" "$f" "$f" "$f" "$f" "$f" "$f" "$f"

# ---------------------------------------------------------------- loupe plot --layers/--positions
"$loupe" lens --format json --positions 2:6 "And God said, Let there be light" >"$work/window_lens.json"
check E2455 2 "--positions: the slice selects none of the document's 2 .. 5" \
  "$loupe" plot --positions 0:2 --plot "$work/w.svg" "$work/window_lens.json"
# ---------------------------------------------------------------- tuned lenses: --tuned LENSDIR
# The tiny model with the embedded model's tokenizer, and copies of the
# lens folders of tests/data to break.
tuned_model=$work/tuned_model
mkdir -p "$tuned_model"
cp "$tiny/config.json" "$tiny/model.safetensors" "$demo/vocab.json" "$demo/merges.txt" "$tuned_model/"
# lens_folder NAME SOURCE: a copy of tests/data/SOURCE (config.json and the params).
lens_folder() {
  mkdir -p "$work/$1"
  cp "$data/$2/config.json" "$data/$2"/params.* "$work/$1/"
  echo "$work/$1"
}
# lens_config NAME PYTHON: a float32 safetensors lens whose config.json dict c is changed by PYTHON.
lens_config() {
  local dir
  dir=$(lens_folder "$1" tuned-tiny-safetensors)
  edit_json "$dir/config.json" "$2"
  echo "$dir"
}
# lens_params NAME PYTHON: the safetensors lens with its header dict h changed by PYTHON.
lens_params() {
  local dir
  dir=$(lens_folder "$1" tuned-tiny-safetensors)
  python3 - "$dir/params.safetensors" "$2" <<'PY'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h, data = json.loads(raw[8:8 + n]), raw[8 + n:]
exec(code)
header = json.dumps(h).encode()
open(path, "wb").write(struct.pack("<Q", len(header)) + header + data)
PY
  echo "$dir"
}
# lens_archive NAME PYTHON: the float32 params.pt lens rewritten with its
# records r (a dict name -> bytes, in order) changed by PYTHON; the pickle is
# r["params/data.pkl"].
lens_archive() {
  local dir
  dir=$(lens_folder "$1" tuned-tiny-f32)
  python3 - "$dir/params.pt" "$2" <<'PY'
import sys, zipfile
path, code = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(path) as z:
    r = {name: z.read(name) for name in z.namelist()}
exec(code)
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
    for name, data in r.items():
        z.writestr(name, data)
PY
  echo "$dir"
}
tuned_lens() { "$loupe" lens --model "$tuned_model" --ids 1,2,3 --tuned "$@"; }
pkl=params/data.pkl

check_first E2201 2 "loupe: --tuned: the tuned lens has translators for block outputs only; drop --subblocks" \
  "$loupe" lens --subblocks --tuned "$data/tuned-tiny-f32" x
check E2231 2 "--tuned applies to one text in one window: not with --batch or --window" \
  "$loupe" lens --window 8 --tuned "$data/tuned-tiny-f32" x
check E2202 1 "$work/no_lens: no such folder" tuned_lens "$work/no_lens"
check E2241 2 "--compare-lenses compares the logit lens with a tuned lens: give --tuned LENSDIR" \
  "$loupe" corpus --compare-lenses "$data/corpus_small.txt"
check E2242 2 "--compare-lenses prints a table or JSON: not with --format csv, --plot, --summary or --export" \
  "$loupe" lens --compare-lenses --tuned "$data/tuned-tiny-f32" --format csv x
check E2243 2 "--compare-lenses: no --plot; save each lens's report with --format json and overlay them with loupe plot A.json B.json --plot FILE" \
  "$loupe" corpus --compare-lenses --tuned "$data/tuned-tiny-f32" --plot "$work/c.png" "$data/corpus_small.txt"
check E2244 2 "--compare-lenses runs in one process: not with --shard, --save-state or --checkpoint \(run each lens's shards apart and merge them\)" \
  "$loupe" corpus --compare-lenses --tuned "$data/tuned-tiny-f32" --shard 0/2 "$data/corpus_small.txt"
check E2203 1 "$data/tuned-tiny-f32/config.json: the lens is for another model: d_model 32 and num_hidden_layers 3, but .*/gpt2-demo has n_embd 192 and n_layer 6" \
  "$loupe" lens --tuned "$data/tuned-tiny-f32" x
dir=$(lens_config lens_type 'c["lens_type"] = "linear_lens_with_mlp"')
check E2204 1 "$dir/config.json: lens_type \"linear_lens_with_mlp\" is not supported \(loupe reads linear_tuned_lens\)" tuned_lens "$dir"
dir=$(lens_config no_width 'del c["d_model"]')
check E2205 1 "$dir/config.json: d_model missing" tuned_lens "$dir"
dir=$(lens_folder no_params tuned-tiny-safetensors)
rm "$dir/params.safetensors"
check E2206 1 "$dir: neither params.safetensors nor params.pt found" tuned_lens "$dir"
dir=$(lens_params extra 'h["3.weight"] = h.pop("2.weight")')
check E2207 1 "$dir/params.safetensors: tensor '3.weight' is not a translator parameter \(expected N.weight and N.bias for N in 0 .. 2\)" \
  tuned_lens "$dir"
dir=$(lens_params shape 'h["1.bias"]["shape"] = [2, 16]')
check E2208 1 "$dir/params.safetensors: tensor '1.bias' has shape \[2, 16\], expected \[32\] \(d_model 32\)" tuned_lens "$dir"
dir=$(lens_config no_bias_tensor 'c["bias"] = True')
python3 - "$dir/params.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h, data = json.loads(raw[8:8 + n]), raw[8 + n:]
begin, end = h.pop("2.bias")["data_offsets"]
for entry in h.values():  # the data without 2.bias's bytes, offsets moved down
    if entry["data_offsets"][0] >= end:
        entry["data_offsets"] = [o - (end - begin) for o in entry["data_offsets"]]
header = json.dumps(h).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header + data[:begin] + data[end:])
PY
check E2209 1 "$dir/params.safetensors: tensor '2.bias' missing \(the lens has 3 layers\)" tuned_lens "$dir"
dir=$(lens_archive twice 'p = r["'$pkl'"]; i = p.index(b"X\x06\x00\x00\x000.bias"); r["'$pkl'"] = p[:i] + b"X\x08\x00\x00\x000.weight" + p[i + 11:]')
check E2210 1 "$dir/params.pt: tensor '0.weight' appears twice" tuned_lens "$dir"
dir=$(lens_folder legacy tuned-tiny-f32)
printf '\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.' >"$dir/params.pt"
check E2211 1 "$dir/params.pt: not a PyTorch zip archive \(Not a zip archive\); loupe does not read the legacy format of torch.save before PyTorch 1.6" \
  tuned_lens "$dir"
dir=$(lens_archive no_pickle 'r["params/other.pkl"] = r.pop("'$pkl'")')
check E2212 1 "$dir/params.pt: no FOLDER/data.pkl record in the archive" tuned_lens "$dir"
dir=$(lens_archive no_storage 'del r["params/data/3"]')
check E2213 1 "$dir/params.pt: record params/data/3 missing from the archive" tuned_lens "$dir"
dir=$(lens_archive short_storage 'r["params/data/1"] = r["params/data/1"][:100]')
check E2214 1 "$dir/params.pt: record params/data/1 is 100 bytes, but its storage of 32 F32 elements needs 128" tuned_lens "$dir"
dir=$(lens_archive evil 'r["'$pkl'"] = r["'$pkl'"].replace(b"collections\nOrderedDict", b"os\nsystem", 1)')
check E2215 1 "$dir/params.pt: $pkl: byte 2: global os.system is not allowed \(a state dict of tensors needs only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the Float, Half and BFloat16 storages\)" \
  tuned_lens "$dir"
dir=$(lens_archive list 'r["'$pkl'"] = b"\x80\x02]q\x00."')
check E2216 1 "$dir/params.pt: $pkl: byte 2: opcode 0x5d \('\]'\) is not allowed in a state dict of tensors" tuned_lens "$dir"
dir=$(lens_archive cut 'r["'$pkl'"] = r["'$pkl'"][:40]')
check E2217 1 "$dir/params.pt: $pkl: byte 34: the pickle ends inside an opcode" tuned_lens "$dir"
dir=$(lens_archive not_dict 'r["'$pkl'"] = b"\x80\x02K\x07."')
check E2218 1 "$dir/params.pt: $pkl: the pickle holds an int, expected a state dict" tuned_lens "$dir"
dir=$(lens_archive int_entry 'r["'$pkl'"] = b"\x80\x02}X\x08\x00\x00\x000.weightK\x01s."')
check E2219 1 "$dir/params.pt: $pkl: state dict entry '0.weight' is an int, not a tensor" tuned_lens "$dir"
dir=$(lens_archive strided 'p = r["'$pkl'"]; i = p.index(b"K K\x01\x86"); r["'$pkl'"] = p[:i] + b"K\x01K \x86" + p[i + 5:]')
check E2220 1 "$dir/params.pt: tensor '0.weight' is not contiguous \(stride 32 in dimension 1, expected 1\)" tuned_lens "$dir"
dir=$(lens_archive offset 'p = r["'$pkl'"]; i = p.index(b"QK\x00K K \x86"); r["'$pkl'"] = p[:i] + b"QK\x05K K \x86" + p[i + 8:]')
check E2221 1 "$dir/params.pt: tensor '0.weight': elements 5 .. 1029 run past its storage of 1024" tuned_lens "$dir"
dir=$(lens_archive big_endian 'r["params/byteorder"] = b"big"')
check E2222 1 "$dir/params.pt: a big-endian archive \(params/byteorder is not \"little\"\)" tuned_lens "$dir"

# ---------------------------------------------------------------- loupe train-lens
words=$work/words.txt
python3 -c "print(' '.join(['the and of to in is a b c d e f'] * 8))" >"$words"
train() { "$loupe" train-lens --model "$tuned_model" --tokens-per-step 8 --context 16 --progress never "$@"; }
check E2223 2 "train-lens: --out LENSDIR is required" "$loupe" train-lens "$words"
check_first E2224 2 "loupe: --loss: expected one of kl, ce, got 'mse'" "$loupe" train-lens --out "$work/x" --loss mse "$words"
check_first E2225 2 "loupe: --warmup-steps: must be below --steps \(10\), got 10" \
  "$loupe" train-lens --out "$work/x" --steps 10 --warmup-steps 10 "$words"
check E2226 2 "train-lens: no corpus file given \(use '-' for standard input\)" "$loupe" train-lens --out "$work/x"
train --out "$work/trained" --steps 4 --checkpoint-every 2 "$words" 2>/dev/null
check E2227 2 "--resume: $work/trained/checkpoint.safetensors is at step 2 of 2 already" \
  train --out "$work/x" --steps 2 --resume "$work/trained/checkpoint.safetensors" "$words"
check E2228 1 "$data/tuned-tiny-safetensors/params.safetensors: not a checkpoint of this model's lens \(weights, biases and momentum for 3 layers of width 32\)" \
  train --out "$work/x" --steps 4 --resume "$data/tuned-tiny-safetensors/params.safetensors" "$words"
check E2229 1 "$work/trained/checkpoint.safetensors: a checkpoint of a run with --loss kl, not ce" \
  train --out "$work/x" --steps 4 --loss ce --resume "$work/trained/checkpoint.safetensors" "$words"
python3 - "$work/trained/checkpoint.safetensors" "$work/renamed.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
h["__metadata__"]["kind"] = "something else"
header = json.dumps(h).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(header)) + header + raw[8 + n:])
PY
check E2230 1 "$work/renamed.safetensors: not a loupe train-lens checkpoint \(its __metadata__\)" \
  train --out "$work/x" --steps 4 --resume "$work/renamed.safetensors" "$words"
# the lens trained on the tiny model, on the ReLU tiny model (same shape, another unembedding);
# both hashes from tests/cli/unembedding_hash.py
relu_model=$work/relu_model
mkdir -p "$relu_model"
cp "$data/gpt2-tiny-relu/config.json" "$data/gpt2-tiny-relu/model.safetensors" "$demo/vocab.json" "$demo/merges.txt" \
  "$relu_model/"
lens_hash=$(python3 "$here/unembedding_hash.py" "$tuned_model/model.safetensors")
relu_hash=$(python3 "$here/unembedding_hash.py" "$relu_model/model.safetensors")
check E2232 1 "$work/trained/params.safetensors: the lens was trained on another model's unembedding \(its final norm and unembedding hash $lens_hash, this model's $relu_hash\)" \
  "$loupe" lens --model "$relu_model" --ids 1,2,3 --tuned "$work/trained"
# ---------------------------------------------------------------- loupe finetune
# the tiny model with GPT-2's tokenizer: $ft_words is one document of ids below 1000
ft_words=$work/ft_words.txt
python3 -c "print(' '.join(['a the and of to in is b c d e f'] * 8))" >"$ft_words"
ft() { "$loupe" finetune --model "$tuned_model" --context 8 --batch-tokens 16 --progress never "$@"; }
check E2751 2 "finetune: --out DIR is required" "$loupe" finetune "$ft_words"
check E2752 2 "finetune: no corpus file given \(use '-' for standard input\)" "$loupe" finetune --out "$work/ft"
check E2753 2 "--warmup-steps: must be below --steps \(5\), got 5" \
  "$loupe" finetune --out "$work/ft" --steps 5 --warmup-steps 5 "$ft_words"
check E2754 2 "--lens-rows needs --lens-weight above 0 \(with 0 no lens row is computed\)" \
  "$loupe" finetune --out "$work/ft" --lens-rows 0:2 "$ft_words"
check E2755 2 "--eval-every needs --eval FILE" "$loupe" finetune --out "$work/ft" --eval-every 5 "$ft_words"
check E2756 2 "--context: at most the model's context of 64 tokens, got 65" ft --out "$work/ft" --context 65 "$ft_words"
check E2757 2 "--batch-tokens: 20 is not a multiple of --context 8 \(take 16 or 24\)" \
  ft --out "$work/ft" --batch-tokens 20 "$ft_words"
check E2758 2 "--micro-batch: 3 does not divide the 2 windows of a step \(--batch-tokens 16 / --context 8\)" \
  ft --out "$work/ft" --micro-batch 3 "$ft_words"
check E2759 1 "--out: $tuned_model holds a model that loupe finetune did not write \(no training.json of a finetune run\); give a new or empty folder" \
  ft --out "$tuned_model" "$ft_words"
mkdir -p "$work/ft_other"
echo notes >"$work/ft_other/notes.txt"
check E2760 1 "--out: $work/ft_other holds other files and is not a folder loupe finetune wrote; give a new or empty folder" \
  ft --out "$work/ft_other" "$ft_words"
check E2761 1 "--out: $ft_words is not a folder" ft --out "$ft_words" "$ft_words"
check E2762 1 "--resume: $work/ft_none/checkpoint.safetensors not found \(nothing to resume: run without --resume\)" \
  ft --out "$work/ft_none" --resume "$ft_words"
# a family without a backward pass: a random Qwen3 (its q/k norms)
"$(dirname "$loupe")/make_random_checkpoint" "$work/ft_qwen3" --arch qwen3 --layers 1 --width 32 --heads 2 --vocab 64 \
  --context 16 >/dev/null
check E2702 1 "$work/ft_qwen3: cannot train a model of type 'qwen3': it needs the backward pass of its q/k norms \(self_attn.q_norm, self_attn.k_norm\) \(trainable types: gpt2, llama, mistral, qwen2, gemma\)" \
  "$loupe" finetune --model "$work/ft_qwen3" --out "$work/ft_q3out" "$ft_words"
ft --out "$work/ft" --steps 4 --stop-after 2 "$ft_words" 2>/dev/null
check E2763 1 "--resume: $work/ft was trained with --lr 0.0003, not 0.001" \
  ft --out "$work/ft" --steps 4 --lr 1e-3 --resume "$ft_words"
check E2764 2 "--resume: $work/ft/checkpoint.safetensors is at step 2 of 2 already" \
  ft --out "$work/ft" --steps 4 --stop-after 2 --resume "$ft_words"
cp -r "$work/ft" "$work/ft_unrecorded"
echo '{"steps": 2}' >"$work/ft_unrecorded/training.json"
check E2765 1 "--resume: $work/ft_unrecorded/training.json is missing or not the record of a loupe finetune run" \
  ft --out "$work/ft_unrecorded" --steps 4 --resume "$ft_words"
echo "a and of to in is Washington Washington" >"$work/ft_vocab.txt"
check E2766 1 "$work/ft_vocab.txt:1: token [0-9]+ \(at token 6 of the document\) is outside the model's vocabulary of 1000" \
  ft --out "$work/ft_vocab" "$work/ft_vocab.txt"
printf 'a and of to in is b c d e f\n\na and of to in is b c d e f\n' >"$work/ft_two.txt"
check E2767 1 "$work/ft_two.txt:3: no end-of-text token of the model's vocabulary to put between documents \(the tokenizer's is 50256, the model has 1000 tokens\): give the corpus as one document" \
  ft --out "$work/ft_two" "$work/ft_two.txt"
echo "a and of" >"$work/ft_short.txt"
check E2768 1 "--eval: $work/ft_short.txt has 3 tokens, fewer than one window of --context 8 \+ 1" \
  ft --out "$work/ft_eval" --eval "$work/ft_short.txt" "$ft_words"
check E2769 1 "finetune: the corpus holds fewer than the 2 windows of --context 8 \+ 1 tokens of one step" \
  ft --out "$work/ft_short" "$work/ft_short.txt"
# ---------------------------------------------------------------- loupe-mpi
# check_mpi ID STATUS MESSAGE NP ARGS...: `loupe-mpi corpus ARGS` under
# `mpirun -np NP` (NP 0: alone, without mpirun); its exit status must be
# STATUS and one line of its stderr "loupe: MESSAGE" (every rank prints its
# own errors, mpirun adds its notice). Skipped where loupe-mpi is not built.
check_mpi() {
  local id=$1 status=$2 message=$3 np=$4 mpi
  shift 4
  checked+=("$id")
  mpi=$(dirname "$loupe")/loupe-mpi
  if [ ! -x "$mpi" ] || ! command -v mpirun >/dev/null; then
    echo "skip $id: no loupe-mpi or mpirun"
    return
  fi
  local run=("$mpi")
  [ "$np" -gt 0 ] && run=(mpirun --oversubscribe -np "$np" "$mpi")
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
    LSAN_OPTIONS="suppressions=$here/mpi_lsan.supp:fast_unwind_on_malloc=0" \
    timeout 60 "${run[@]}" corpus "$@" >"$work/out" 2>"$work/err" </dev/null
  local got=$?
  # mpirun forwards the ranks' output in chunks, which may join two ranks' lines
  if [ "$got" -ne "$status" ] || ! sed 's/loupe: /\nloupe: /g' "$work/err" | grep -qxE "loupe: $message"; then
    echo "FAILED $id: status $got (expected $status), stderr: $(grep '^loupe' "$work/err" | head -3)"
    failures=$((failures + 1))
  fi
}
check_mpi E2641 2 "--shard: loupe-mpi deals the shards itself, one per rank \(docs/SCALE.md\)" 0 --shard 0/2 "$corpus"
check_mpi E2642 2 "--max-tokens would limit each rank, not the corpus: not with several ranks" 2 \
  --max-tokens 5 "$corpus"
check_mpi E2643 1 "rank 0 of 1 failed \(its message above\): no report" 0 --model "$work/no-such-model" "$corpus"
# ---------------------------------------------------------------- the certified lens
check_first E2501 2 "loupe: --weight-radius: expected a number from 0 to below 1, bf16 or f16, got '2'" \
  "$loupe" lens --certify --weight-radius 2 x
check_first E2502 2 "loupe: --weight-radius needs --certify" "$loupe" lens --weight-radius bf16 x
check E2503 2 "--certify runs the logit lens of one text in one window: not with --tuned, --batch or --window" \
  "$loupe" lens --certify --window 8 x
check E2504 2 "corpus: --weight-radius needs --certify" "$loupe" corpus --weight-radius bf16 x
check E2505 2 "corpus --certify runs the certified logit lens: not with --tuned" \
  "$loupe" corpus --certify --tuned "$work" x
check E2506 2 "--metric certainty needs --certify" "$loupe" lens --metric certainty x
check E2507 2 "plot: --metric certainty needs the certified lens: draw it with loupe lens --certify --plot" \
  "$loupe" plot --metric certainty --plot "$work/x.png" "$work/x.json"
check E2508 2 "--certify runs in one process: not with --shard, --save-state or --checkpoint \(its statistics are not part of the saved state\)" \
  "$loupe" corpus --certify --shard 0/2 x

# ---------------------------------------------------------------- fine-tuning: lens rows and checkpoints
# the tiny model with GPT-2's tokenizer ($tuned_model, and $relu_model of
# the same shape with other weights); one document of ids below 1000
ftc_words=$work/ftc_words.txt
python3 -c "print(' '.join(['a the and of to in is b c d e f'] * 8))" >"$ftc_words"
ftc() { "$loupe" finetune --context 8 --batch-tokens 16 --progress never "$@" "$ftc_words"; }
check E2721 1 "lens rows 'a': expected whole numbers and slices A:B separated by commas, got 'a'" \
  ftc --model "$tuned_model" --out "$work/ftc_rows" --lens-weight 1 --lens-rows a
check E2722 1 "lens rows '3': row 3 is not a lens row \(they are 0 \.\. 2; the model's output, row 3, is always in the loss\)" \
  ftc --model "$tuned_model" --out "$work/ftc_rows" --lens-weight 1 --lens-rows 3
check E2723 1 "lens rows '2:1': selects no row out of 0 \.\. 2" \
  ftc --model "$tuned_model" --out "$work/ftc_rows" --lens-weight 1 --lens-rows 2:1
ftc --model "$tuned_model" --out "$work/ftc" --steps 4 --stop-after 2 2>/dev/null
ftc --model "$tuned_model" --out "$work/ftc_lr" --steps 4 --stop-after 2 --lr 1e-3 2>/dev/null
# ftc_case NAME: a copy of the run's folder whose checkpoint the check breaks
ftc_case() { rm -rf "$work/$1"; cp -r "$work/ftc" "$work/$1"; echo "$work/$1"; }
edit=$here/safetensors_edit.py
case_dir=$(ftc_case ftc_kind)
cp "$tiny/model.safetensors" "$case_dir/checkpoint.safetensors"
check E2724 1 "$case_dir/checkpoint.safetensors: not a loupe finetune checkpoint \(its __metadata__ loupe.kind is not \"loupe.finetune.checkpoint/1\"\)" \
  ftc --model "$tuned_model" --out "$case_dir" --steps 4 --resume
case_dir=$(ftc_case ftc_step)
python3 "$edit" "$work/ftc/checkpoint.safetensors" "$case_dir/checkpoint.safetensors" metadata loupe.step two
check E2725 1 "$case_dir/checkpoint.safetensors: __metadata__ loupe.step is not a whole number" \
  ftc --model "$tuned_model" --out "$case_dir" --steps 4 --resume
check E2726 1 "$work/ftc/checkpoint.safetensors: a checkpoint of another model: weights_hash \"[0-9a-f]{16}\", this model's \"[0-9a-f]{16}\" \(__metadata__ loupe.model\)" \
  ftc --model "$relu_model" --out "$work/ftc" --steps 4 --resume
case_dir=$(ftc_case ftc_settings)
cp "$work/ftc_lr/checkpoint.safetensors" "$case_dir/checkpoint.safetensors"
check E2727 1 "$case_dir/checkpoint.safetensors: a checkpoint of a run with lr 0.001, this run's 0.0003 \(__metadata__ loupe.settings\)" \
  ftc --model "$tuned_model" --out "$case_dir" --steps 4 --resume
case_dir=$(ftc_case ftc_missing)
python3 "$edit" "$work/ftc/checkpoint.safetensors" "$case_dir/checkpoint.safetensors" drop exp_avg_sq/transformer.ln_f.bias
check E2728 1 "$case_dir/checkpoint.safetensors: tensor 'exp_avg_sq/transformer.ln_f.bias' missing \(a checkpoint of this model has [0-9]+ tensors\)" \
  ftc --model "$tuned_model" --out "$case_dir" --steps 4 --resume
case_dir=$(ftc_case ftc_shape)
python3 "$edit" "$work/ftc/checkpoint.safetensors" "$case_dir/checkpoint.safetensors" reshape param/transformer.ln_f.bias 4,8
check E2729 1 "$case_dir/checkpoint.safetensors: tensor 'param/transformer.ln_f.bias' is F32 \[4, 8\], this model's is F32 \[32\]" \
  ftc --model "$tuned_model" --out "$case_dir" --steps 4 --resume

# ---------------------------------------------------------------- the catalogue itself
documented=$(grep -oE '^\| E[0-9]{3,4} ' "$catalogue" | tr -d '| ' | sort)
tested=$(printf '%s\n' "${checked[@]}" | sort)
if [ "$documented" != "$tested" ]; then
  echo "FAILED: docs/ERRORS.md and this script disagree on the entries:"
  diff <(echo "$documented") <(echo "$tested")
  failures=$((failures + 1))
fi
[ "$failures" -eq 0 ] && echo "error catalogue: ${#checked[@]} entries ok"
exit "$failures"
