#!/usr/bin/env bash
# Builds every fuzz target with clang-14 and libFuzzer under ASan + UBSan into
# one self-contained folder (default fuzz/out/):
#   fuzz_<name>          the fuzzers (utf8proc, PCRE2 and the C++ runtime linked in
#                        statically; no BLAS, no OpenMP)
#   libcjson.so.1        Debian's cJSON and libzip (libzip.so.4, which needs the
#                        system's zlib, bzip2 and xz), found through an rpath of $ORIGIN
#   tokenizer/           the GPT-2 vocab.json and merges.txt the tokenizer
#                        targets encode with
#   corpus/<name>/       the seed corpora (from fuzz/corpus/)
#   run_parallel.sh      runs them all at once: ./run_parallel.sh . SECONDS
# The folder runs on any x86-64 Linux with glibc 2.36 or later (the static
# C++ runtime of Debian 12 calls arc4random).
# usage: fuzz/build.sh [OUT_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/out}
cc=${CC_FUZZ:-clang-14}
mkdir -p "$out"
out=$(cd "$out" && pwd)

cjson_so=$(ls /usr/lib/x86_64-linux-gnu/libcjson.so.1 2>/dev/null || true)
zip_so=$(ls /usr/lib/x86_64-linux-gnu/libzip.so.4 2>/dev/null || true)
utf8proc_a=/usr/lib/x86_64-linux-gnu/libutf8proc.a
pcre2_a=/usr/lib/x86_64-linux-gnu/libpcre2-8.a
[ -n "$cjson_so" ] || { echo "build.sh: libcjson.so.1 not found (apt-get install libcjson-dev)" >&2; exit 1; }
[ -n "$zip_so" ] || { echo "build.sh: libzip.so.4 not found (apt-get install libzip-dev)" >&2; exit 1; }
[ -f "$utf8proc_a" ] || { echo "build.sh: $utf8proc_a not found (apt-get install libutf8proc-dev)" >&2; exit 1; }
[ -f "$pcre2_a" ] || { echo "build.sh: $pcre2_a not found (apt-get install libpcre2-dev)" >&2; exit 1; }

flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fopenmp
       -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
       -I"$root/include" -I"$root/src" -I"$root/src/internal" -I"$root/cli" -I"$here/targets"
       "-DLOUPE_FUZZ_SOURCE_TOKENIZER=\"$root/models/gpt2-demo\"")
# The whole library: the config reader (model_config) reaches every family's
# table, and through it the model, kernels and lens code (BLAS, OpenMP).
library=("$root"/src/*/*.c "$root"/cli/corpus_json_read.c "$root"/cli/corpus_plot_data.c "$root"/cli/corpus_state.c)

# The library once as objects, shared by every target.
objects="$out/.objects"
mkdir -p "$objects"
object_list=()
for source in "${library[@]}"; do
  object="$objects/$(basename "$(dirname "$source")")_$(basename "${source%.c}").o"
  # -fsanitize=fuzzer on the library gives its coverage; the link adds main.
  "$cc" "${flags[@]}" -c "$source" -o "$object"
  object_list+=("$object")
done
"$cc" "${flags[@]}" -c "$here/targets/fuzz_support.c" -o "$objects/fuzz_support.o"

cp -L "$cjson_so" "$out/libcjson.so.1"
cp -L "$zip_so" "$out/libzip.so.4"
for target in "$here"/targets/fuzz_*.c; do
  name=$(basename "${target%.c}")
  [ "$name" = fuzz_support ] && continue
  "$cc" "${flags[@]}" "$target" "$objects/fuzz_support.o" "${object_list[@]}" \
    "$utf8proc_a" "$pcre2_a" "$out/libcjson.so.1" "$out/libzip.so.4" -lopenblas -lm -static-libstdc++ -static-libgcc \
    -Wl,-rpath,'$ORIGIN' -o "$out/$name"
  short=${name#fuzz_}
  mkdir -p "$out/corpus/$short"
  [ -d "$here/corpus/$short" ] && cp -n "$here/corpus/$short"/* "$out/corpus/$short"/ 2>/dev/null || true
  echo "built $out/$name"
done
mkdir -p "$out/tokenizer"
cp "$root/models/gpt2-demo/vocab.json" "$root/models/gpt2-demo/merges.txt" "$out/tokenizer/"
cp "$here/run_parallel.sh" "$here/run_one.sh" "$out/"
rm -rf "$objects"
du -sh "$out"
