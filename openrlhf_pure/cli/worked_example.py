"""A worked example of PURE's credit assignment, printed side by side.

One prompt, four sampled responses with PRM step scores (given, not computed: this shows the
algorithm, not a model). Each response is tokenized with a tokenizer trained on the fly, split
into steps in token space, and its step scores go through every credit mode; then the whole
group goes through the rewards-to-advantages path with PURE's defaults.

    python -m openrlhf_pure.cli.worked_example [--temperature 0.1] [--baseline token]

The responses are chosen to show why the sum form is hacked: response C repeats
high-scoring "planning" steps and never solves the problem. Summed, its rewards beat the
correct solution; under min-form credit its worst step decides, and it loses.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from openrlhf_pure.cli.errors import report_errors
from openrlhf_pure.core.advantages import AdvantageConfig, compute_advantages
from openrlhf_pure.core.baselines import PR_BASELINES
from openrlhf_pure.core.credit import CREDIT_MODES, CreditConfig, step_returns
from openrlhf_pure.core.steps import separator_token_ids, split_steps
from openrlhf_pure.data.arithmetic import arithmetic_corpus, arithmetic_solution
from openrlhf_pure.models.tiny import train_tiny_tokenizer

PROMPT = "Compute (12 + 30) * 3."
# (label, response text, PRM score per step, verifier says correct)
RESPONSES = [
    ("A correct", arithmetic_solution(12, 30, 3), [0.95, 0.9, 0.7, 0.95], 1.0),
    (
        "B wrong step",
        "First, we add:\n\n12 + 30 = 43.\n\nThen we multiply: 43 * 3 = 129\n\nThe answer is \\boxed{129}.",
        [0.95, -0.8, 0.6, 0.4],
        0.0,
    ),
    (
        "C only plans",
        "First, we add:\n\nThen we multiply:\n\nFirst, we add:\n\nThen we multiply:\n\nLet me check.\n\n"
        "Then we multiply:\n\nThe answer is \\boxed{42}.",
        [0.95, 0.95, 0.9, 0.9, 0.85, 0.9, -0.3],
        0.0,
    ),
    ("D one step", "12 + 30 = 42, so 42 * 3 = 126. The answer is \\boxed{126}.", [0.8], 1.0),
]


def encode(tokenizer, texts):
    """Right-padded response ids (B, T) with EOS, and their mask."""
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, ids != tokenizer.pad_token_id


def main(argv: list[str] | None = None) -> int:
    """Parse, print the example (its last line: the figures as JSON); returns the exit status."""
    parser = argparse.ArgumentParser(description="PURE credit assignment, worked on one group of responses.")
    parser.add_argument("--temperature", type=float, default=0.1, help="softmin temperature T (Eq. 5), > 0")
    parser.add_argument("--baseline", default="token", choices=PR_BASELINES.names(), help="process-reward baseline")
    args = parser.parse_args(argv)
    if not args.temperature > 0:  # T -> 0 is the min form: shown in its own column already
        return report_errors(
            [f"--temperature must be > 0 (softmin's T; T -> 0 is the min column), got {args.temperature}"]
        )
    worked_example(args.temperature, args.baseline)
    return 0


def worked_example(temperature: float = 0.1, baseline: str = "token") -> dict:
    """Print the example; returns {"first_step_returns": per mode, "mean_advantage": per response}."""
    args = argparse.Namespace(temperature=temperature, baseline=baseline)

    tokenizer = train_tiny_tokenizer(arithmetic_corpus(), vocab_size=400)
    ids, mask = encode(tokenizer, [text for _, text, _, _ in RESPONSES])
    layout = split_steps(ids, mask, separator_token_ids(tokenizer))
    scores = torch.zeros(len(RESPONSES), layout.num_slots)
    for i, (label, _, row, _) in enumerate(RESPONSES):
        if len(row) != int(layout.num_steps[i]):
            raise RuntimeError(f"{label}: {len(row)} scores for {int(layout.num_steps[i])} steps")
        scores[i, : len(row)] = torch.tensor(row)
    vr = torch.tensor([correct for *_, correct in RESPONSES])

    print(f"Prompt: {PROMPT}   (4 responses, separator tokens: {separator_token_ids(tokenizer).numel()})\n")
    modes = CREDIT_MODES.names()
    returns = {m: step_returns(scores, layout.step_mask, CreditConfig(m, args.temperature)) for m in modes}
    for i, (label, _, row, correct) in enumerate(RESPONSES):
        print(f"{label}  (verifier: {'correct' if correct else 'wrong'}, {int(mask[i].sum())} tokens)")
        print(f"  {'step':<5}{'tokens':>7}{'PRM':>8}" + "".join(f"{m:>12}" for m in modes))
        for k in range(len(row)):
            cells = "".join(f"{float(returns[m][i, k]):>12.3f}" for m in modes)
            print(f"  {k + 1:<5}{int(layout.step_tokens[i, k]):>7}{row[k]:>8.2f}{cells}")
    print("\nValue of each response (first step's return) under each credit mode:")
    print(f"  {'response':<16}" + "".join(f"{m:>12}" for m in modes))
    for i, (label, *_) in enumerate(RESPONSES):
        print(f"  {label:<16}" + "".join(f"{float(returns[m][i, 0]):>12.3f}" for m in modes))

    config = AdvantageConfig(credit=CreditConfig("softmin", args.temperature), pr_baseline=args.baseline)
    result = compute_advantages(mask, config, layout=layout, step_rewards=scores, verifiable_rewards=vr, groups=4)
    print(f"\nPURE-PRM+VR advantages (softmin T={args.temperature}, {args.baseline} baseline, RLOO on VR, ")
    print("reward tokens masked, whitened over the group): mean advantage per response")
    summary = {}
    for i, (label, *_) in enumerate(RESPONSES):
        adv = result.advantages[i][result.advantage_mask[i]]
        summary[label] = round(float(adv.mean()), 4)
        print(f"  {label:<16}{summary[label]:>+9.3f}   process reward {float(result.process_reward[i]):+.3f}")
    values = {m: [round(float(returns[m][i, 0]), 4) for i in range(len(RESPONSES))] for m in modes}
    out = {"first_step_returns": values, "mean_advantage": summary}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(main())
