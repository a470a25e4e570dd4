#!/usr/bin/env bash
# SmolLM2-135M-Instruct (`make real-model`) through the project's paths on CPU, one table and a JSON last line:
#   1. pure-eval run (hf backend, the model's chat template) on the first N MATH-500 problems;
#   2. a PRM on SmolLM2's backbone (new head) trained briefly by pure-train-prm on the demo's
#      step-labelled arithmetic rows, scored through the packed scorer and pure-serve-prm;
#   3. RL steps of pure-train (PURE-PRM+VR, softmin credit), SmolLM2 as the policy, the PRM of phase 2;
#   3b. the same RL step with a PRM whose tokenizer is not SmolLM2's (the tiny PRM of
#      `python -m openrlhf_pure.cli.tiny_models`): the responses are decoded and re-tokenised for it;
#   4. two PPO steps of train_pure_ray through OpenRLHF's real loop on CPU, SmolLM2 as policy and reference,
#      the PRM of phase 2, with the tests' CPU harness (tests/openrlhf/run_real_loop.py: the vLLM and
#      flash-attn stand-ins and OpenRLHF's CUDA call sites on the CPU, which exist only in tests/).
#   N=10 MAX_NEW_TOKENS=64 RL_STEPS=1 OUT=runs/real_model_smoke bash examples/scripts/real_model_smoke.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
N=${N:-10}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-64}
RL_STEPS=${RL_STEPS:-1}
OUT=${OUT:-runs/real_model_smoke}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TOKENIZERS_PARALLELISM=false DS_ACCELERATOR=${DS_ACCELERATOR:-cpu}
MODEL=$("$PY" -c 'from openrlhf_pure.models.real_model import smollm2_dir; print(smollm2_dir())') || {
  echo "real_model_smoke.sh: the real model is not installed; run: make real-model" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT"
declare -A SECONDS_OF
phase() { local name=$1; shift; local t0; t0=$(date +%s.%N); "$@" > "$OUT/$name.log" 2>&1 || {
  echo "real_model_smoke.sh: phase $name failed; see $OUT/$name.log" >&2; tail -20 "$OUT/$name.log" >&2; exit 1; }
  SECONDS_OF[$name]=$(echo "$(date +%s.%N) - $t0" | bc); }

# 1. evaluation
phase eval "$BIN/pure-eval" run --model "$MODEL" --template chat --backend hf --benchmarks math500 --limit "$N" \
  --max_new_tokens "$MAX_NEW_TOKENS" --output_dir "$OUT/eval" --quiet

# 2. a PRM on SmolLM2's backbone: the demo's step-labelled rows, pure-train-prm, the packed scorer, the HTTP server
"$PY" - "$OUT/prm_rows.jsonl" <<'EOF'
import json, sys
from openrlhf_pure.data.arithmetic import prm_rows, split_problems
train, _ = split_problems(seed=0)
with open(sys.argv[1], "w") as f:
    for row in prm_rows(train[:16], seed=0, per_problem=2):
        f.write(json.dumps(row) + "\n")
EOF
phase prm_train "$PY" -m openrlhf_pure.cli.train_prm --model.name_or_path "$MODEL" --data.train "$OUT/prm_rows.jsonl" \
  --train.max_steps 2 --output_dir "$OUT/prm" --log.no_progress
score_packed() {
  "$PY" - "$OUT/prm/final" "$MODEL" <<'EOF'
import json, sys
from transformers import AutoTokenizer
from openrlhf_pure.engines.prm_scorer import PRMScorer
from openrlhf_pure.models.prm import ProcessRewardModel
prm = ProcessRewardModel.from_pretrained(sys.argv[1])
scores, layout = PRMScorer(prm, AutoTokenizer.from_pretrained(sys.argv[2])).score_responses(
    ["What is 2 + 3?"] * 2, ["2 + 3 = 5.\n\nSo \\boxed{5}.", "2 + 3 = 6.\n\nSo \\boxed{6}."])
print(json.dumps({"steps": layout.num_steps.tolist(), "scores": [[round(v, 4) for v in r] for r in scores.tolist()]}))
EOF
}
phase prm_score score_packed
serve() {
  "$BIN/pure-serve-prm" --model "$OUT/prm/final" --port 8799 > "$OUT/serve.out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 180); do curl -sf localhost:8799/health > /dev/null && break; sleep 1; done
  curl -sf localhost:8799/score -H 'Content-Type: application/json' -d '{"items": [{"prompt": "What is 2 + 3?", "response": "2 + 3 = 5.\n\nSo \\boxed{5}."}]}'
  local rc=$?
  kill "$pid"; wait "$pid" 2> /dev/null || true
  return $rc
}
phase prm_serve serve

# 3. RL: pure-train, PURE-PRM+VR with softmin credit, SmolLM2 as the policy, the PRM of phase 2; the prompt in
# SmolLM2's chat format (--data.template chat: without it the model ends the turn at once and nothing trains)
phase rl "$BIN/pure-train" --actor.model_name_or_path "$MODEL" --pure.prm.model_name_or_path "$OUT/prm/final" \
  --pure.reward_mode prm_vr --pure.credit.mode softmin \
  --data.prompt_dataset data/train/math_level3to5_8523.jsonl --data.input_key prompt --data.label_key label \
  --data.template chat --output_dir "$OUT/rl" --train.steps "$RL_STEPS" --rollout.prompts_per_step 1 \
  --rollout.n_samples_per_prompt 2 --rollout.max_new_tokens 16 --train.micro_batch_size 2

# 3b. the same RL step, a PRM with its own tokenizer (a tiny byte-level BPE): the re-tokenisation path, with
# MAX_NEW_TOKENS, so that responses can have steps
"$PY" -m openrlhf_pure.cli.tiny_models --out "$OUT/tiny" --prm "$OUT/tiny_prm" > "$OUT/tiny_models.log" 2>&1
phase rl_retok "$BIN/pure-train" --actor.model_name_or_path "$MODEL" --pure.prm.model_name_or_path "$OUT/tiny_prm" \
  --pure.reward_mode prm_vr --pure.credit.mode softmin \
  --data.prompt_dataset data/train/math_level3to5_8523.jsonl --data.input_key prompt --data.label_key label \
  --data.template chat --output_dir "$OUT/rl_retok" --train.steps 1 --rollout.prompts_per_step 1 \
  --rollout.n_samples_per_prompt 2 --rollout.max_new_tokens "$MAX_NEW_TOKENS" --train.micro_batch_size 2

# 4. OpenRLHF's real loop: train_pure_ray, two PPO steps, with the tests' CPU harness
phase real_loop "$PY" tests/openrlhf/run_real_loop.py --model "$MODEL" --prm "$OUT/prm/final" --out "$OUT/real_loop"

"$PY" - "$OUT" "$N" "${SECONDS_OF[eval]}" "${SECONDS_OF[prm_train]}" "${SECONDS_OF[prm_score]}" \
  "${SECONDS_OF[prm_serve]}" "${SECONDS_OF[rl]}" "${SECONDS_OF[rl_retok]}" "${SECONDS_OF[real_loop]}" <<'EOF'
import json, sys
from pathlib import Path
out, n = Path(sys.argv[1]), int(sys.argv[2])
names = ["eval", "prm_train", "prm_score", "prm_serve", "rl", "rl_retok", "real_loop"]
times = dict(zip(names, map(float, sys.argv[3:10])))
bench = json.loads((out / "eval" / "summary.json").read_text())["benchmarks"]["math500"]
packed = json.loads((out / "prm_score.log").read_text().strip().splitlines()[-1])
served = json.loads((out / "prm_serve.log").read_text().strip().splitlines()[-1])
rl = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
retok = [json.loads(line) for line in (out / "rl_retok" / "metrics.jsonl").read_text().splitlines()]
loop = json.loads((out / "real_loop" / "summary.json").read_text())
rows = [("1 eval", f"MATH-500 first {n}: accuracy {bench['accuracy']}, no answer {bench['no_answer_pct']}%, "
                   f"mean length {bench['mean_response_tokens']} tokens", times["eval"]),
        ("2 PRM train", "pure-train-prm, 2 steps, new head on SmolLM2", times["prm_train"]),
        ("2 PRM packed", f"steps {packed['steps']} scores {packed['scores']}", times["prm_score"]),
        ("2 PRM server", f"POST /score: {json.dumps(served)[:70]}", times["prm_serve"]),
        ("3 RL", f"pure-train prm_vr softmin, {len(rl)} step(s), grad norm {rl[-1].get('policy/grad_norm'):.3g}", times["rl"]),
        ("3b RL, PRM re-tokenised", f"tiny PRM (own BPE), {len(retok)} step(s), steps/response "
                                    f"{retok[-1].get('steps/mean')}, grad norm {retok[-1].get('policy/grad_norm'):.3g}",
         times["rl_retok"]),
        ("4 OpenRLHF loop", f"train_pure_ray (tests' CPU harness): steps logged {loop['steps_logged']}, "
                            f"completed 2 steps: {loop['completed_2_steps']}, steps/response "
                            f"{list(loop['steps_per_response'].values())}", times["real_loop"])]
print("| phase | result | seconds |\n|---|---|---|")
for name, result, sec in rows:
    print(f"| {name} | {result} | {sec:.1f} |")
print(json.dumps({"n": n, "accuracy": bench["accuracy"], "no_answer_pct": bench["no_answer_pct"],
                  "mean_response_tokens": bench["mean_response_tokens"], "prm_packed_scores": packed["scores"],
                  "rl_steps": len(rl), "rl_retok_steps_per_response": retok[-1].get("steps/mean"),
                  "real_loop_completed_2_steps": loop["completed_2_steps"], "seconds": {k: round(v, 1) for k, v in times.items()}}))
EOF
