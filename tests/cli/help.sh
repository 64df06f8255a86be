#!/usr/bin/env bash
# `loupe help CMD` prints what `loupe CMD --help` prints (each command's own
# help, not the global usage), on stdout with status 0; an unknown command
# after help is an error.
set -uo pipefail
loupe=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
for command in info tokenize next generate lens corpus count plot compare train-lens finetune; do
  "$loupe" "$command" --help >"$work/expected" 2>&1
  expected_status=$?
  got=$("$loupe" help "$command" 2>&1)
  status=$?
  if [ "$status" -ne 0 ] || [ "$expected_status" -ne 0 ] || [ "$got" != "$(cat "$work/expected")" ]; then
    echo "FAILED: loupe help $command (status $status) differs from loupe $command --help"
    failures=$((failures + 1))
  fi
  # the command's own usage line, not the global one
  if ! printf '%s\n' "$got" | head -1 | grep -q "^usage: loupe $command "; then
    echo "FAILED: loupe help $command does not start with its usage line: $(printf '%s\n' "$got" | head -1)"
    failures=$((failures + 1))
  fi
done
# plain help is the global usage (read whole first: with head in the pipe,
# loupe could be cut off by SIGPIPE and pipefail would count that)
global_usage=$("$loupe" help)
printf '%s\n' "$global_usage" | head -1 | grep -qx "loupe - the logit lens for transformer language models" ||
  { echo "FAILED: loupe help is not the global usage"; failures=$((failures + 1)); }
err=$("$loupe" help frobnicate 2>&1 >/dev/null)
status=$?
{ [ "$status" -eq 2 ] && [ "$err" = "loupe: unknown command 'frobnicate' (try loupe --help)" ]; } ||
  { echo "FAILED: loupe help frobnicate -> $status: $err"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] && echo "help: ok"
exit "$failures"
