#!/usr/bin/env bash
# Where the text comes from and how it becomes ids, for the commands that read
# a text: one trailing newline of --file / stdin dropped (--keep-newline keeps
# it), special tokens matched (--no-special not), --ids and --bos. Expected ids
# are Hugging Face's (gpt2_tokenizer_cases.json and the ids it gives the
# pieces: "Hello world" 15496 995, "\n" 198, "\n\n" 628, " is text here" 318
# 2420 994) and vocab.json's 50256 for <|endoftext|>.
set -euo pipefail
loupe=$1
here=$(cd "$(dirname "$0")" && pwd)
data=${LOUPE_TEST_DATA:-$here/../data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "text_input: $*" >&2; exit 1; }
ids() { "$loupe" tokenize --json "$@" | python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))'; }
expect_ids() { # expected, then the tokenize arguments
    local expected=$1; shift
    local got; got=$(ids "$@")
    [ "$got" = "$expected" ] || fail "tokenize $*: got $got, expected $expected"
}

# The reported bug: the same text on stdin and as arguments gives the same `next`.
prompt="And God said, Let there be"
"$loupe" next --json "$prompt" > "$work/argument.json"
echo "$prompt" | "$loupe" next --json > "$work/stdin.json"
cmp -s "$work/argument.json" "$work/stdin.json" || fail "next: stdin differs from the argument"
echo "$prompt" > "$work/prompt.txt"
"$loupe" next --json --file "$work/prompt.txt" > "$work/file.json"
cmp -s "$work/argument.json" "$work/file.json" || fail "next: --file differs from the argument"
echo "$prompt" | "$loupe" next --topk 1 | grep -q '␣no ' || fail "next on stdin: ' no' is not first"
echo "$prompt" | "$loupe" lens --format json > "$work/lens_stdin.json"
"$loupe" lens --format json "$prompt" > "$work/lens_argument.json"
cmp -s "$work/lens_stdin.json" "$work/lens_argument.json" || fail "lens: stdin differs from the argument"

# Exactly one newline, \n or \r\n, dropped; --keep-newline keeps it.
printf 'Hello world\n' | expect_ids 15496,995
printf 'Hello world\r\n' | expect_ids 15496,995
printf 'Hello world\n\n' | expect_ids 15496,995,198
printf 'Hello world\n\n' > "$work/two.txt"
expect_ids 15496,995,198 --file "$work/two.txt"
expect_ids 15496,995,628 --file "$work/two.txt" --keep-newline
printf 'Hello world\n' | expect_ids 15496,995,198 --keep-newline
expect_ids 15496,995 "Hello world"
printf '\n' | "$loupe" next > /dev/null 2> "$work/empty.err" && fail "next on a lone newline ran"
grep -q "the text is empty" "$work/empty.err" || fail "a lone newline: $(cat "$work/empty.err")"

# <|endoftext|> is the special token 50256; --no-special reads it as text,
# as the fixture's case (made without added tokens) does.
expect_ids 15496,995,50256,318,2420,994 "Hello world<|endoftext|> is text here"
expect_ids 50256,50256 "<|endoftext|><|endoftext|>"
fixture=$(python3 -c '
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
print(",".join(map(str, next(c["ids"] for c in cases if c["text"] == "<|endoftext|> is text here"))))' \
    "$data/gpt2_tokenizer_cases.json")
expect_ids "$fixture" --no-special "<|endoftext|> is text here"
expect_ids "50256,${fixture#27,91,437,1659,5239,91,29,}" "<|endoftext|> is text here"
"$loupe" tokenize "a<|endoftext|>" | grep -q "^ *1 *50256  <|endoftext|>$" || fail "tokenize does not show <|endoftext|> by name"

# --bos puts 50256 first; --ids runs exactly what the text runs.
expect_ids 50256,15496,995 --bos "Hello world"
expect_ids 50256,15496,995 --bos --ids 15496,995
expect_ids 15496,995 --ids 15496,995
prompt_ids=$(ids "$prompt")
[ "$prompt_ids" = 1870,1793,531,11,3914,612,307 ] || fail "the prompt's ids: $prompt_ids"
"$loupe" next --json --ids "$prompt_ids" > "$work/ids.json"
cmp -s "$work/argument.json" "$work/ids.json" || fail "next --ids differs from the text"
"$loupe" lens --format json --ids "$prompt_ids" > "$work/lens_ids.json"
cmp -s "$work/lens_argument.json" "$work/lens_ids.json" || fail "lens --ids differs from the text"
"$loupe" generate --tokens 5 "$prompt" > "$work/generate_text.txt"
"$loupe" generate --tokens 5 --ids "$prompt_ids" > "$work/generate_ids.txt"
cmp -s "$work/generate_text.txt" "$work/generate_ids.txt" || fail "generate --ids differs from the text"
"$loupe" next --json --bos "$prompt" > "$work/bos.json"
"$loupe" next --json --ids "50256,$prompt_ids" > "$work/bos_ids.json"
cmp -s "$work/bos.json" "$work/bos_ids.json" || fail "next --bos differs from --ids 50256,..."
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["ids"][0] == 50256' "$work/bos.json" \
    || fail "next --bos: the first id is not 50256"

# Bad --ids: one line naming the entry, exit 1.
expect_error() { # the message part, then the arguments
    local message=$1; shift
    local status=0
    "$loupe" "$@" > /dev/null 2> "$work/error.txt" || status=$?
    [ "$status" = 1 ] || fail "$*: exit $status, expected 1"
    grep -qF -- "$message" "$work/error.txt" || fail "$*: $(cat "$work/error.txt")"
    [ "$(wc -l < "$work/error.txt")" = 1 ] || fail "$*: more than one line"
}
expect_error "--ids: entry 2 ('x') is not a token id" tokenize --ids 15496,x
expect_error "--ids: entry 3 (50257) is not a token id of the model's vocabulary (0 .. 50256)" next --ids 1,2,50257
expect_error "--ids: entry 1 ('') is not a token id" lens --ids ,1
expect_error "--ids: entry 1 ('-1') is not a token id" generate --ids -1
expect_error "give either a text (arguments, --file or standard input) or --ids, not both" next --ids 1 Hello

# Every command that reads a text documents the options.
for command in tokenize next generate lens; do
    help=$("$loupe" "$command" --help)
    for option in --keep-newline --no-special --ids --bos; do
        grep -q -- "$option" <<< "$help" || fail "$command --help does not mention $option"
    done
done
echo "text_input: ok"
