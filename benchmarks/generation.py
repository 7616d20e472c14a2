"""Generation throughput: one prompt at a time vs length-sorted batches.

Generates answers to the sample prompts (``sample_data/prompts.jsonl``) with the demo model,
SmolLM2-135M-Instruct, greedily and with the same ``max_new_tokens``, first one by one and
then in length-sorted batches of 16, and prints generated tokens per second for each and
their ratio. Only real answer tokens count (padding and tokens after the end of an answer do
not). On a machine with CUDA it also measures bfloat16 on the GPU.

Target: batches of 16 at least 4x the tokens per second of one-by-one generation on the CPU.

Usage::

    HF_HUB_OFFLINE=1 python benchmarks/generation.py [--max-new-tokens 64] [--limit 42]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from review.demo.model import ensure_demo_model  # noqa: E402
from review.generation import GenerationParams, GenerationRequest, ModelSpec  # noqa: E402

TARGET_RATIO = 4.0


def load_requests(path: Path, limit: int | None) -> list[GenerationRequest]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    requests = [GenerationRequest(key=row["id"], messages=row.get("messages")
                                  or [{"role": "user", "content": row["prompt"]}]) for row in rows]
    return requests[:limit] if limit else requests


def timed(loaded, requests, params, batch_size: int) -> tuple[float, int, dict]:  # noqa: ANN001
    """(seconds, generated tokens, answers by key) of one generation call."""
    from review.generation.transformers_backend import generate_loaded

    started = time.perf_counter()
    results = list(generate_loaded(loaded, requests, params, batch_size=batch_size))
    seconds = time.perf_counter() - started
    return seconds, sum(r.token_count for r in results), {r.key: r.text for r in results}


def run(device: str, dtype, folder: Path, requests, params, batch_size: int) -> float:  # noqa: ANN001
    """Print tokens/s one by one and batched on ``device``; return the ratio.

    The two ways are measured in turns, batch by batch (the prompts of one length-sorted batch
    one by one, then the same prompts as a batch), so that load from other processes on a
    shared machine weighs on both alike.
    """
    from review.generation.transformers_backend import (
        encode_requests,
        generate_loaded,
        length_sorted_batches,
        load_model,
    )

    loaded = load_model(ModelSpec(kind="base", location=str(folder)), device=device, dtype=dtype)
    list(generate_loaded(loaded, requests[:2], GenerationParams(max_new_tokens=8), batch_size=2))  # warm-up
    print(f"\n[{device}, {loaded.dtype}] {len(requests)} prompts, max_new_tokens={params.max_new_tokens}, "
          f"greedy, batches of {batch_size} sorted by prompt length")
    totals = {"one by one": [0.0, 0, {}], f"batches of {batch_size}": [0.0, 0, {}]}
    for group in length_sorted_batches(encode_requests(loaded, requests, params), batch_size):
        group_requests = [item.request for item in group]
        for total, size in zip(totals.values(), (1, batch_size), strict=True):
            seconds, tokens, answers = timed(loaded, group_requests, params, size)
            total[0] += seconds
            total[1] += tokens
            total[2].update(answers)
        print(f"  ... {len(totals['one by one'][2])}/{len(requests)} prompts, load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
    rates = {}
    for name, (seconds, tokens, _answers) in totals.items():
        rates[name] = tokens / seconds
        print(f"  {name:<16}: {tokens:5d} tokens in {seconds:7.1f} s = {rates[name]:8.1f} tokens/s")
    single, batched = (answers for _s, _t, answers in totals.values())
    ratio = rates[f"batches of {batch_size}"] / rates["one by one"]
    same = sum(single[key] == batched[key] for key in single)
    print(f"  ratio           : {ratio:.2f}x  (identical answers: {same}/{len(single)})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("review-data"))
    parser.add_argument("--prompts", type=Path, default=ROOT / "sample_data" / "prompts.jsonl")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N prompts")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice, one per core)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    folder = ensure_demo_model(args.data_dir)
    requests = load_requests(args.prompts, args.limit)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    print(f"CPU threads: {torch.get_num_threads()}, load average before: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ratio = run("cpu", torch.float32, folder, requests, params, args.batch_size)
    print(f"  target >= {TARGET_RATIO:.0f}x  : {'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        run("cuda", dtype, folder, requests, params, args.batch_size)
    else:
        print("\nCUDA not available: no GPU figures.")
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
