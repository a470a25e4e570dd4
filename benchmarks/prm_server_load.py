"""Load on the PRM HTTP server: many concurrent clients, and one client with a big request among them.

A tiny PRM (Qwen2, hidden 64, 2 layers, a BPE trained on the arithmetic task) is saved to a
temporary folder and served by ``python -m openrlhf_pure.cli.serve_prm --port 0`` on
127.0.0.1, in its own process. Then ``--clients`` threads start together (a barrier), each
sending ``--rounds`` requests one after the other, each request on a new connection with
``--items`` items of 3-4 steps. With ``--hog_items N`` one more client sends, at the start, one
request of N items (the most a request may hold is 1,024): on a server with one global lock,
everyone who comes after it waits for all of it.

Counted per request: answered 200; answered 503 (the server's bounded queue was full); other
statuses; resets (the connection was reset or closed without an answer, or refused); client
timeouts. Latency is from connect to the last byte of the answer.

    .venv/bin/python benchmarks/prm_server_load.py [--clients 200 --rounds 3 --items 4 --hog_items 1024]
    .venv/bin/python benchmarks/prm_server_load.py --baseline /path/to/other/checkout

``--baseline ROOT`` runs the same load against the server of another checkout of the project
(``PYTHONPATH=ROOT``), then against this one, and prints them side by side with the ratios.
``--torch_threads`` is the server's torch thread count (OMP_NUM_THREADS; default 1).

Last line: {"clients": ..., "requests": ..., "ok": ..., "resets": ..., "busy_503": ..., "other": ...,
"p50_s": ..., "p99_s": ..., "max_s": ..., "requests_per_s": ..., "items_per_s": ..., "hog_s": ...}
(with ``--baseline``: {"baseline": {...}, "current": {...}, "ratio_max_latency": ...}).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_tiny_prm(folder: str) -> str:
    """Save a tiny PRM with a random head under ``folder``; returns its path."""
    import torch

    from openrlhf_pure.data.arithmetic import arithmetic_corpus
    from openrlhf_pure.models.prm import ProcessRewardModel
    from openrlhf_pure.models.tiny import tiny_causal_lm, train_tiny_tokenizer

    corpus = arithmetic_corpus()
    tokenizer = train_tiny_tokenizer(corpus + [t.replace("\n\n", "\n") for t in corpus], vocab_size=400)
    lm_dir, prm_dir = os.path.join(folder, "lm"), os.path.join(folder, "prm")
    tiny_causal_lm(len(tokenizer), seed=1).save_pretrained(lm_dir)
    tokenizer.save_pretrained(lm_dir)
    prm = ProcessRewardModel.from_pretrained(lm_dir, new_head=True)
    torch.manual_seed(2)
    torch.nn.init.normal_(prm.model.score.weight, std=0.5)
    prm.save_pretrained(prm_dir)
    return prm_dir


def start_server(model: str, code_root: Path, torch_threads: int) -> tuple[subprocess.Popen, str, int]:
    """Start ``serve_prm`` on a free port with ``code_root`` first on the path; returns (process, host, port)."""
    env = {**os.environ, "PYTHONPATH": str(code_root), "OMP_NUM_THREADS": str(torch_threads)}
    cmd = [sys.executable, "-m", "openrlhf_pure.cli.serve_prm", "--model", model, "--port", "0", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=code_root)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    host, port = line.rsplit("http://", 1)[1].strip().split(":")
    return proc, host, int(port)


def make_items(rng: random.Random, count: int) -> list[dict]:
    """``count`` items of 3-4 arithmetic steps."""
    items = []
    for _ in range(count):
        a, b, c = rng.randrange(10, 99), rng.randrange(10, 99), rng.randrange(2, 9)
        total = (a + b) * c
        steps = [f"First, {a} + {b} = {a + b}.", f"Then, {a + b} * {c} = {total}.", f"So the answer is {total}."]
        if rng.random() < 0.5:
            steps.insert(1, "We compute step by step.")
        items.append({"prompt": f"What is ({a} + {b}) * {c}?", "steps": steps})
    return items


def one_request(host: str, port: int, body: bytes, timeout: float) -> tuple[str, float]:
    """Send one ``/score`` request on a new connection; (outcome, seconds)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        outcome = {200: "ok", 503: "busy_503"}.get(response.status, "other")
    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError, http.client.RemoteDisconnected):
        outcome = "resets"
    except TimeoutError:
        outcome = "timeouts"
    except OSError:
        outcome = "resets"
    finally:
        conn.close()
    return outcome, time.perf_counter() - start


def run_load(host: str, port: int, args: argparse.Namespace) -> dict:
    """Drive ``args.clients`` concurrent clients (and the optional hog); returns the summary dict."""
    rng = random.Random(0)
    bodies = [json.dumps({"items": make_items(rng, args.items)}).encode() for _ in range(args.clients * args.rounds)]
    hog = json.dumps({"items": make_items(rng, args.hog_items)}).encode() if args.hog_items else None
    results: list[tuple[str, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.clients + (1 if hog else 0))
    hog_result: list[tuple[str, float]] = []

    def client(index: int) -> None:
        barrier.wait()
        if hog is not None:
            time.sleep(0.05)  # the hog's request arrives first
        for r in range(args.rounds):
            outcome = one_request(host, port, bodies[index * args.rounds + r], args.timeout)
            with lock:
                results.append(outcome)

    def hog_client() -> None:
        barrier.wait()
        hog_result.append(one_request(host, port, hog, args.timeout))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    if hog is not None:
        threads.append(threading.Thread(target=hog_client))
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    latencies = sorted(seconds for outcome, seconds in results if outcome == "ok")
    kinds = ("ok", "resets", "busy_503", "other", "timeouts")
    counts = {key: sum(outcome == key for outcome, _ in results) for key in kinds}
    return {
        "clients": args.clients,
        "requests": len(results),
        **counts,
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p99_s": round(latencies[int(0.99 * (len(latencies) - 1))], 3) if latencies else None,
        "max_s": round(latencies[-1], 3) if latencies else None,
        "requests_per_s": round(counts["ok"] / elapsed, 1),
        "items_per_s": round(counts["ok"] * args.items / elapsed, 1),
        "hog_s": round(hog_result[0][1], 3) if hog_result else None,
        "hog_outcome": hog_result[0][0] if hog_result else None,
        "wall_s": round(elapsed, 2),
    }


def measure(model: str, code_root: Path, args: argparse.Namespace) -> dict:
    """Start a server from ``code_root``, warm it up, run the load, stop it."""
    proc, host, port = start_server(model, code_root, args.torch_threads)
    try:
        one_request(host, port, json.dumps({"items": make_items(random.Random(1), 4)}).encode(), 60)
        return run_load(host, port, args)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="requests per client, one after the other")
    parser.add_argument("--items", type=int, default=4, help="items per request")
    parser.add_argument("--hog_items", type=int, default=1024, help="items of the one big request (0: none)")
    parser.add_argument("--timeout", type=float, default=300.0, help="client socket timeout, seconds")
    parser.add_argument("--torch_threads", type=int, default=1, help="the server's OMP_NUM_THREADS")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare against")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        model = build_tiny_prm(folder)
        runs = {}
        if args.baseline is not None:
            runs["baseline"] = measure(model, args.baseline.resolve(), args)
        runs["current"] = measure(model, ROOT, args)

    keys = ["requests", "ok", "resets", "busy_503", "other", "timeouts", "p50_s", "p99_s", "max_s"]
    keys += ["requests_per_s", "items_per_s", "hog_s", "hog_outcome", "wall_s"]
    print(f"{args.clients} clients x {args.rounds} requests of {args.items} items; hog: {args.hog_items} items; "
          f"server torch threads: {args.torch_threads}")  # fmt: skip
    print(f"{'':<16}" + "".join(f"{name:>14}" for name in runs))
    for key in keys:
        print(f"{key:<16}" + "".join(f"{str(run[key]):>14}" for run in runs.values()))
    if "baseline" in runs:
        base, cur = runs["baseline"], runs["current"]
        ratio = round(base["max_s"] / cur["max_s"], 2) if base["max_s"] and cur["max_s"] else None
        print(f"max latency, baseline / current: {ratio}")
        print(json.dumps({"baseline": base, "current": cur, "ratio_max_latency": ratio}))
    else:
        print(json.dumps(runs["current"]))


if __name__ == "__main__":
    main()
