#!/usr/bin/env bash
# Runs one file of the Python package's tests with pytest against this build:
# run.sh LIBLOUPE.so LOUPE TEST.py [PYTEST ARGS...]. The package is imported
# from python/ of the source tree; the interpreter is $LOUPE_PYTHON, else
# Debian's /usr/bin/python3 (which has python3-cffi, -numpy and -pytest),
# else python3. Exit 77 (a skip) only when a module the tests need is not
# installed. A sanitizer build's library needs the ASan runtime loaded first.
set -euo pipefail
library=$(realpath "${1:?usage: run.sh LIBLOUPE.so LOUPE TEST.py}")
command=$(realpath "${2:?usage: run.sh LIBLOUPE.so LOUPE TEST.py}")
test_file=$(realpath "${3:?usage: run.sh LIBLOUPE.so LOUPE TEST.py}")
shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

python=${LOUPE_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi
fi
modules=(cffi numpy pytest)
case "$(basename "$test_file")" in
  test_notebook.py) modules+=(nbconvert ipykernel) ;;
esac
for module in "${modules[@]}"; do
  if ! "$python" -c "import $module" 2>/dev/null; then
    echo "skip: $python has no module $module (Debian: scripts/install-deps.sh installs it)" >&2
    exit 77
  fi
done

export LOUPE_LIBRARY="$library" LOUPE_EXECUTABLE="$command" PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
# (not `ldd | grep -q`: grep's early exit can kill ldd by SIGPIPE, which
# pipefail then reads as no match)
if [[ "$(ldd "$library")" == *libasan* ]]; then
  # the interpreter is not instrumented: its own allocations are not ours to judge
  export LD_PRELOAD=$(cc -print-file-name=libasan.so)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:quarantine_size_mb=1}
fi
cd "$here"
exec "$python" -m pytest -q -p no:cacheprovider -rs "$test_file" "$@"
