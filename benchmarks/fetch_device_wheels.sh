#!/usr/bin/env bash
# Download, here (where pip reaches PyPI), the wheels the GPU machine lacks into .whl/:
# Keras and the two of its requirements its image does not hold (namex, optree). The
# machine has Python 3.12 with JAX, absl-py, rich, h5py, ml-dtypes, packaging and every
# other requirement of vaebench (../.library/device/KINDS.md); vaebench itself runs from
# the checkout (PYTHONPATH). benchmarks/device_check.sh installs what is in .whl/.
#   benchmarks/fetch_device_wheels.sh [KERAS_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
KERAS=${1:-3.15.1}
PIP=${PIP:-python3 -m pip}
exclude=.git/info/exclude
if [ -d .git ] && ! grep -qx '/.whl/' "$exclude" 2>/dev/null; then mkdir -p .git/info; echo /.whl/ >>"$exclude"; fi
rm -rf .whl && mkdir -p .whl
platforms="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64"
# shellcheck disable=SC2086
$PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $platforms -d .whl \
    "keras==$KERAS" namex optree
ls -l .whl
du -sh .whl
