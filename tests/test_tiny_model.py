"""The demo's tiny model: its tokenizer reads the same under ms-swift 3's transformers 4 (tokenizer.json as it is)
and ms-swift 4's transformers 5 (which rebuilds any qwen2 tokenizer as its own byte-level Qwen2Tokenizer), and its
answers can hold no broken character. CI runs this under both."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer, GenerationConfig

from swiftpipe.demo import tiny_model

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted((REPO / "datasets").glob("*.jsonl"))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model.build(tmp_path_factory.mktemp("model") / "tiny-qwen2", SAMPLES, layers=1)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return list(tiny_model.sample_texts(SAMPLES))


def test_transformers_reads_the_tokens_that_tokenizer_json_holds(model: Path, texts: list[str]) -> None:
    as_written = Tokenizer.from_file(str(model / "tokenizer.json"))
    loaded = AutoTokenizer.from_pretrained(model)
    for text in [*texts, "Hello, world!  Two spaces\nand a line.", "血压 120/80 mmHg，正常。"]:
        ids = as_written.encode(text, add_special_tokens=False).ids
        assert loaded(text, add_special_tokens=False)["input_ids"] == ids, text
        assert loaded.decode(ids) == unicodedata.normalize("NFC", text)


def test_every_character_of_the_samples_is_one_token(model: Path, texts: list[str]) -> None:
    loaded = AutoTokenizer.from_pretrained(model)
    characters = {c for text in texts for c in text if not c.isspace()}
    assert len(characters) > 300
    split = {c: loaded.tokenize(c) for c in characters}
    assert {c: pieces for c, pieces in split.items() if len(pieces) != 1} == {}


def test_tokens_that_are_part_of_a_character_or_only_whitespace_are_never_generated(model: Path) -> None:
    loaded = AutoTokenizer.from_pretrained(model)
    suppressed = set(GenerationConfig.from_pretrained(model).suppress_tokens)
    special = set(loaded.all_special_ids)
    for token, index in loaded.get_vocab().items():
        if index in special:
            continue
        text = loaded.decode([index])
        broken = "\ufffd" in text or text.isspace()
        assert broken == (index in suppressed), (token, text)
    assert {loaded.convert_ids_to_tokens(i) for i in suppressed} >= {"Ġ", "Ċ"}  # a space, a newline
    config = json.loads((model / "generation_config.json").read_text())
    assert config["eos_token_id"] == loaded.convert_tokens_to_ids("<|im_end|>")
