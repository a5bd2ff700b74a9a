#!/usr/bin/env bash
# The runners of the nightly claims job (see .github/workflows/nightly.yml), written to
# $GITHUB_OUTPUT as 'matrix' (the include list of the claims job) and 'cpu_runner'.
#
#   GPU_RUNNER  labels of a self-hosted GPU runner: JSON ('["self-hosted", "gpu"]') or one
#               plain label; empty or 'none': no GPU job
#   CPU_RUNNER  labels of the CPU runner (default ubuntu-latest)
#   GPU_SCALE   scale of the GPU job (default full)
#
# The CPU job (scale cpu) always runs, so a night without a GPU runner still has a result;
# the GPU job (scale GPU_SCALE) runs besides it only when GPU_RUNNER names a runner.
# 'timing' is how 'vaebench compare' judges each job's benchmarks against its last run:
# ratios to a reference benchmark on the (shared, varying) hosted CPU runners, seconds on
# the dedicated GPU runner.
set -euo pipefail

as_json() {  # '["a","b"]' stays, 'gpu' becomes '"gpu"'
  case "$1" in \[*|\"*) jq -ce . <<<"$1" ;; *) jq -cn --arg l "$1" '$l' ;; esac
}

cpu=$(as_json "${CPU_RUNNER:-ubuntu-latest}")
matrix=$(jq -cn --argjson r "$cpu" '[{target: "cpu", runner: $r, scale: "cpu", timing: "ratio"}]')
gpu="${GPU_RUNNER:-}"
if [ -n "$gpu" ] && [ "$gpu" != "none" ]; then
  matrix=$(jq -c --argjson r "$(as_json "$gpu")" --arg s "${GPU_SCALE:-full}" \
    '. + [{target: "gpu", runner: $r, scale: $s, timing: "seconds"}]' <<<"$matrix")
fi
{
  echo "matrix=$matrix"
  echo "cpu_runner=$cpu"
} >> "${GITHUB_OUTPUT:-/dev/stdout}"
echo "claims run on: $matrix" >&2
