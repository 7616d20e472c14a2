"""Tiny models built offline from a config and saved with ``save_pretrained`` (seeded weights).

- :func:`build_llama`: a 2-layer Llama (hidden size 32) with a byte-level BPE tokenizer trained
  here on a few sentences and a ChatML chat template;
- :func:`build_gpt2`: a 2-layer GPT-2 with the same kind of tokenizer and no chat template;
- :func:`build_adapter`: a LoRA adapter whose B matrices are non-zero, so it changes the output.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TRAINING_TEXT = [
    "The thermostat keeps the house warm in winter and cool in summer.",
    "Press and hold the ring for ten seconds to restart the device.",
    "What is the capital of France? The capital of France is Paris.",
    "Two plus two is four, and three times three is nine.",
    "Write a short poem about the sea, the wind and the morning light.",
    "Your subscription renews every month unless you cancel it in the app.",
    "Error code E2 means the Wi-Fi connection was lost.",
    "user assistant system hello thanks please help answer question",
]
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tokenizer(folder: Path, *, chat_template: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(TRAINING_TEXT * 4, trainer=trainer)
    eos = "<|im_end|>" if chat_template else "<|endoftext|>"
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=eos,
                                      bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    if chat_template:
        wrapped.chat_template = chat_template
    wrapped.save_pretrained(folder)
    return wrapped


def build_llama(folder: Path, *, hidden_size: int = 32, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(folder, chat_template=CHATML_TEMPLATE)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, initializer_range=0.3,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def build_gpt2(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer(folder, chat_template=None)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=512,
                        initializer_range=0.3, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def build_adapter(base: Path, folder: Path, *, seed: int = 1) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,  # random, non-zero B
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                        "gate_proj", "up_proj", "down_proj"])
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.normal_(0.0, 0.5)
    peft_model.save_pretrained(folder)
    return folder


def write_trainer_state(folder: Path, step: int) -> Path:
    """What a transformers Trainer writes last into a checkpoint folder."""
    import json

    path = folder / "trainer_state.json"
    path.write_text(json.dumps({"global_step": step, "epoch": step / 100, "log_history": []}))
    return path


def build_judge(folder: Path, *, share_a: float = 0.7, steps: int = 150, seed: int = 0) -> Path:
    """A tiny Llama trained here to answer any chat with ``[[A]]`` (share ``share_a`` of its
    training answers) or ``[[B]]``: a position-biased judge whose greedy verdict is ``[[A]]``
    and whose probability of ``A`` after ``[[`` is about ``share_a``."""
    import random

    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    build_llama(folder, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = LlamaForCausalLM.from_pretrained(folder)
    rng = random.Random(seed)
    questions = ["Which answer is better?", "Compare A: two B: four", "hello please help",
                 *(f"Question {i}? A: {x} answer p{i} B: {y} answer p{i}"
                   for i in range(10) for x, y in (("ft", "base"), ("base", "ft")))]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = []
        for _ in range(16):
            prompt = tokenizer.apply_chat_template(
                [{"role": "user", "content": rng.choice(questions)}], tokenize=False, add_generation_prompt=True)
            verdict = "[[A]]" if rng.random() < share_a else "[[B]]"
            batch.append(tokenizer(prompt + verdict + "<|im_end|>", add_special_tokens=False)["input_ids"])
        width = max(map(len, batch))
        ids = torch.tensor([row + [tokenizer.eos_token_id] * (width - len(row)) for row in batch])
        labels = torch.tensor([row + [-100] * (width - len(row)) for row in batch])
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(folder)
    return folder
