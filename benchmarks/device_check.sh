#!/usr/bin/env bash
# The device check of issue 14, for a GPU machine with JAX but no Keras (the wheels of
# keras, namex and optree in .whl/, made by benchmarks/fetch_device_wheels.sh):
#   benchmarks/device_check.sh OUTDIR [BUDGET_S] [--size posts|tiny] [--claims C5 C1 M1] [--store DIR]
# installs the carried wheels where Python has no keras (and stops at once, naming the
# command that fetches them, where there is neither), uses the JAX backend unless
# KERAS_BACKEND says otherwise, lets no process preallocate the GPU
# (XLA_PYTHON_CLIENT_PREALLOCATE=false) and runs `vaebench device-check` from this
# checkout (python3, or $PYTHON). Without a usable GPU at the posts' size it writes
# OUTDIR/summary.json with the reason and exits 3; --size tiny runs on any CPU.
set -u
cd "$(dirname "$0")/.." || exit 1
if [ $# -lt 1 ]; then echo "usage: $0 OUTDIR [BUDGET_S] [--size posts|tiny] [--claims ...]" >&2; exit 2; fi
out=$1; shift
budget=450
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then budget=$1; shift; fi
PY=${PYTHON:-python3}
if ! "$PY" -c "import keras" 2>/dev/null; then   # keras missing: the GPU machine
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "device_check.sh: $PY cannot import keras and $PWD/.whl/ holds no wheels: run" \
         "benchmarks/fetch_device_wheels.sh where pip reaches PyPI, then carry .whl to this machine" >&2
    exit 4
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || exit 1
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONUNBUFFERED=1
exec "$PY" -m vaebench.cli.commands device-check --out "$out" --budget-s "$budget" "$@"
