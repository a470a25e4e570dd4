"""Build the tiny models the docs' CPU commands use: ``python -m openrlhf_pure.cli.tiny_models``.

    python -m openrlhf_pure.cli.tiny_models --out runs/tiny --prm runs/tiny_prm

Writes a random Qwen2-shaped causal LM (hidden 64, 2 layers) with a byte-level BPE tokenizer
trained on the fly (the same as the tests', no download) to ``--out``, recording PURE's prompt
template, and with ``--prm`` a PRM made from it (a fixed random head, ``pure`` step format) to
that folder. They answer and score nonsense: they exist so that every command of the docs runs
on a fresh clone in seconds. Folders that already hold them are kept (``--overwrite`` builds them
again). The last line printed is one JSON object with the two paths.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openrlhf_pure.cli.errors import report_errors


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="python -m openrlhf_pure.cli.tiny_models", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/tiny", help="the policy's folder")
    parser.add_argument("--prm", default=None, help="also write a PRM made from it to this folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace existing folders")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Build and save the models; returns the exit status (2 when a folder holds something else)."""
    args = build_parser().parse_args(argv)
    targets = [p for p in (args.out, args.prm) if p]
    taken = [p for p in targets if Path(p).exists() and not args.overwrite]
    if all((Path(p) / "config.json").is_file() for p in targets) and taken == targets:
        print(f"kept the models already in {' and '.join(targets)} (--overwrite builds them again)")
        print(json.dumps({"policy": args.out, "prm": args.prm}))
        return 0
    if taken:
        return report_errors([f"{p} exists: pass --overwrite to replace it" for p in taken])
    import torch

    from openrlhf_pure.cli.logs import quiet_libraries
    from openrlhf_pure.data.arithmetic import arithmetic_corpus
    from openrlhf_pure.data.prompts import PromptFormat, record_prompt_format
    from openrlhf_pure.engines.checkpoint import save_pretrained_atomic
    from openrlhf_pure.models.prm import ProcessRewardModel
    from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer

    quiet_libraries(progress=False)
    corpus = arithmetic_corpus(args.seed)
    tokenizer = train_tiny_tokenizer(corpus + [text.replace("\n\n", "\n") for text in corpus], vocab_size=400)
    policy = tiny_causal_lm(len(tokenizer), seed=args.seed)
    record_prompt_format(policy, PromptFormat())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_pretrained_atomic(policy, args.out, tokenizer)
    if args.prm:
        prm = ProcessRewardModel.from_pretrained(args.out, new_head=True)
        torch.manual_seed(args.seed)
        torch.nn.init.normal_(prm.model.score.weight, std=0.5)
        Path(args.prm).parent.mkdir(parents=True, exist_ok=True)
        save_pretrained_atomic(prm, args.prm)
    print(json.dumps({"policy": args.out, "prm": args.prm}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
