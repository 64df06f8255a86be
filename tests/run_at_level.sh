#!/usr/bin/env bash
# run_at_level.sh LEVEL SCRIPT LOUPE: runs the CLI test SCRIPT with
# LOUPE_CPU=LEVEL (src/util/cpu_features.h), so that its expected output is
# checked against every kernel body; exit 77 (a skip) when this CPU lacks
# the level, which loupe then refuses.
set -uo pipefail
level=$1 script=$2 loupe=$3
if ! probe=$(LOUPE_CPU=$level "$loupe" next --topk 1 "a" 2>&1 >/dev/null); then
    case $probe in
    *"this CPU has only"*) echo "skipped: $probe"; exit 77 ;;
    *) echo "FAIL: loupe at LOUPE_CPU=$level: $probe" >&2; exit 1 ;;
    esac
fi
LOUPE_CPU=$level exec bash "$script" "$loupe"
