"""A tiny Qwen2-architecture model built locally: for the demo and the end-to-end tests, on the CPU.

A byte-level BPE tokenizer built exactly as transformers 5 rebuilds any `qwen2` tokenizer (its `Qwen2Tokenizer`:
NFC, Qwen's split pattern, byte-level pieces), so that transformers 4 (ms-swift 3), which reads tokenizer.json as
it is, and 5 (ms-swift 4) give the same tokens. It is trained with `tokenizers` on the shipped sample text (with the
chat special tokens ms-swift's qwen2_5 template uses) until every character of the samples is one token, and the
tokens that hold part of a character (or only whitespace) are suppressed at generation, so no answer shows broken
bytes or is empty. Random weights (a few hundred thousand parameters), `save_pretrained`. No network, no hub.

    python -m swiftpipe.demo.tiny_model work/tiny-qwen2 datasets/*.jsonl
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from swiftpipe import console

if TYPE_CHECKING:  # transformers is imported when a model is built: importing it takes seconds
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 1400  # room for the 256 bytes and two merges per character of the samples (about 1,200 are used)
# transformers 5's Qwen2Tokenizer pre-tokenizer pattern: the tiny model's must be the same
QWEN_SPLIT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
              r"""\s+(?!\S)|\s+""")
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
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    target = Path(target)
    tokenizer = Tokenizer(models.BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="",
                                     fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), max_token_length=6)
    texts = list(sample_texts(text_files))
    # each character on its own first, so that the merges complete every character before they join any
    tokenizer.train_from_iterator([*"".join(texts), *texts, *[TEMPLATE_TEXT] * 20], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL_TOKENS[1:])
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 1024
    target.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(target)

    config = Qwen2Config(
        vocab_size=len(fast), hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=fast.get_vocab()["<|endoftext|>"], eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    generation = model.generation_config
    assert generation is not None  # a causal LM gets one from its config
    generation.eos_token_id = fast.eos_token_id
    generation.pad_token_id = fast.pad_token_id
    generation.suppress_tokens = unwanted_tokens(fast)  # ms-swift's infer keeps the model's setting
    model.save_pretrained(target)
    return target


def unwanted_tokens(tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """The tokens a tiny model must never answer with: those whose bytes are not whole UTF-8 characters (a lone
    byte, the first two bytes of a character; decoded alone, they give U+FFFD), and those that are only
    whitespace, which a random model otherwise repeats, giving an empty answer that ms-swift 3's ROUGE refuses
    ("Hypothesis is empty"). A space before a word is part of the word's token, so English still reads."""
    decode = tokenizer.backend_tokenizer.decoder.decode
    special = set(tokenizer.all_special_tokens)
    return sorted(index for token, index in tokenizer.get_vocab().items()
                  if token not in special and ("\ufffd" in decode([token]) or decode([token]).isspace()))


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: python -m swiftpipe.demo.tiny_model TARGET_DIR TEXT.jsonl [TEXT.jsonl ...]")
    path = build(args[0], [Path(a) for a in args[1:]])
    console.say(f"tiny Qwen2 model written to {path}")


if __name__ == "__main__":
    main()
