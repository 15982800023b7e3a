#!/usr/bin/env bash
# Compiles the pure SLA core with mypyc into an overlay: a copy of the stream_sla package whose
# core modules (stream_sla/sla, stream_sla/replay.py) are C extensions built from the very same
# typed sources. Put the overlay first on the path to run compiled:
#
#   PYTHONSAFEPATH=1 PYTHONPATH=build/native:. .venv/bin/python -m stream_sla.cli worker
#
# Why an overlay and not .so files next to the sources: Python imports an extension module
# before a .py of the same name, so a stale .so in the checkout would silently hide an edit.
# The checkout stays pure Python (tests, debugging, py-spy), the overlay is rebuilt from it.
#
# Usage: deploy/native.sh [OUT]   (OUT defaults to build/native; needs gcc and Python headers)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/native}
python=${PYTHON:-.venv/bin/python}
if [[ $python == */* ]]; then  # mypyc runs inside the overlay: a relative path would not resolve
  python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
fi
tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
cp -r stream_sla "$tmp/"
find "$tmp" -name __pycache__ -prune -exec rm -rf {} +
cp -r topics "$tmp/stream_sla/_topics"  # where the wheel keeps them (pyproject force-include)
# mypyc reads the project's mypy settings; the overlay has no pyproject.toml of its own.
printf '[mypy]\npython_version = 3.11\nignore_missing_imports = True\n' >"$tmp/mypy.ini"
if ! (cd "$tmp" && "$python" -m mypyc --config-file mypy.ini stream_sla/sla/ stream_sla/replay.py \
  >mypyc.log 2>&1); then
  tail -40 "$tmp/mypyc.log" >&2
  echo "native.sh: mypyc failed (full log: $tmp/mypyc.log)" >&2
  exit 1
fi
rm -rf "$tmp/build" "$tmp/mypy.ini" "$tmp/.mypy_cache" "$tmp/mypyc.log"
{ git rev-parse HEAD 2>/dev/null || echo unknown; } >"$tmp/SOURCE_COMMIT"
rm -rf "$out"
mv "$tmp" "$out"
echo "native.sh: compiled core in $out ($(find "$out" -name '*.so' | wc -l) extension modules)"
