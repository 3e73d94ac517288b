"""A tiny Qwen2-architecture model built locally: for the demo and the end-to-end tests, on the CPU.

A BPE tokenizer over whole characters, trained with `tokenizers` on the shipped sample text (with the chat
special tokens ms-swift's qwen2_5 template uses), random weights (a few hundred thousand parameters), and
`save_pretrained`. It loads under transformers 4 (ms-swift 3) and 5 (ms-swift 4). No network, no hub.

    python -m swiftpipe.demo.tiny_model work/tiny-qwen2 datasets/*.jsonl
"""
from __future__ import annotations

import json
import string
import sys
from pathlib import Path
from typing import Iterable, Iterator

from swiftpipe import console

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
UNKNOWN = "<unk>"
VOCAB_SIZE = 700
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \n"
# What ms-swift's qwen2_5 template adds around every sample (its default system prompt), so that it costs a few
# tokens of the short sequences rather than one per character.
TEMPLATE_TEXT = "system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\nuser\nassistant\n"
# The chat format of Qwen2.5 (what ms-swift's qwen2_5 template writes), for tools that use the tokenizer's own.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def sample_texts(files: Iterable[Path]) -> Iterator[str]:
    """Every string value in the JSON Lines files: the text the tokenizer learns its merges from."""
    for file in files:
        for line in Path(file).read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield from (v for v in json.loads(line).values() if isinstance(v, str))


def build(target: str | Path, text_files: Iterable[Path], *, vocab_size: int = VOCAB_SIZE, hidden_size: int = 128,
          layers: int = 2, seed: int = 0) -> Path:
    """Write the model folder (config.json, weights, tokenizer) to `target` and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    target = Path(target)
    # Pieces of whole characters (SentencePiece-style BPE): a token is never part of a character's bytes, so no
    # answer shows broken bytes. Characters outside the samples and ASCII become <unk>.
    tokenizer = Tokenizer(models.BPE(unk_token=UNKNOWN))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    tokenizer.decoder = decoders.Metaspace(prepend_scheme="never")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[UNKNOWN, *SPECIAL_TOKENS],
                                  initial_alphabet=list(ALPHABET), max_token_length=4,
                                  show_progress=False)
    texts = list(sample_texts(text_files))
    tokenizer.train_from_iterator([*texts, *[TEMPLATE_TEXT] * 20], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token=UNKNOWN, additional_special_tokens=SPECIAL_TOKENS[1:])
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 1024
    target.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(target)

    config = Qwen2Config(
        vocab_size=len(fast), hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=fast.convert_tokens_to_ids("<|endoftext|>"), eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(target)
    return target


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: python -m swiftpipe.demo.tiny_model TARGET_DIR TEXT.jsonl [TEXT.jsonl ...]")
    path = build(args[0], [Path(a) for a in args[1:]])
    console.say(f"tiny Qwen2 model written to {path}")


if __name__ == "__main__":
    main()
