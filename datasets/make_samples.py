"""Writes the sample files in every format from the three hand-written ones (pretrain text, SFT pairs, DPO pairs),
so that all formats carry the same medical content and the round-trip tests can compare against it; and the
arithmetic samples of recipes/reasoning.py, computed.
Run from the repository root: python datasets/make_samples.py
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "你是一名专业、谨慎的医生。"
INSTRUCTION = "请回答下面的医学问题。"


def _read(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _jsonl(name: str, records: list[dict]) -> None:
    (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _array(name: str, records: list[dict]) -> None:
    (HERE / name).write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    texts = [r["text"] for r in _read("medical_pretrain_sample.jsonl")]
    pairs = [(r["query"], r["response"]) for r in _read("medical_sft_sample.jsonl")]
    rejected = [r["rejected_response"] for r in _read("medical_dpo_sample.jsonl")]

    _jsonl("medical_pretrain_response_sample.jsonl", [{"response": t} for t in texts])
    _array("medical_book_sample.json", [{"text": t} for t in texts])
    # QiZhen's alpaca layout; every third record puts the question in `input` under a fixed instruction.
    _array("qizhen_sft_sample.json", [
        {"instruction": INSTRUCTION, "input": q, "output": r} if i % 3 == 2
        else {"instruction": q, "input": "", "output": r}
        for i, (q, r) in enumerate(pairs)])
    _jsonl("medical_multiturn_sample.jsonl", [
        {"system": SYSTEM, "query": q, "response": r, "history": [list(pairs[i - 1])] if i % 2 else []}
        for i, (q, r) in enumerate(pairs)])
    _jsonl("medical_messages_sample.jsonl", [
        {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                      {"role": "assistant", "content": r}]} for q, r in pairs])
    _array("medical_sharegpt_sample.json", [
        {"system": SYSTEM, "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": r}]}
        for q, r in pairs])
    _jsonl("medical_reward_sample.jsonl", [
        {"question": q, "response_chosen": r, "response_rejected": x} for (q, r), x in zip(pairs, rejected)])
    _jsonl("medical_dpo_messages_sample.jsonl", [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": r}], "rejected_response": x}
        for (q, r), x in zip(pairs, rejected)])
    _jsonl("llamafactory/medical_dpo_ranking.jsonl", [
        {"instruction": q, "input": "", "chosen": r, "rejected": x} for (q, r), x in zip(pairs, rejected)])
    arithmetic()


def arithmetic() -> None:
    """Sums of two one-digit numbers, for recipes/reasoning.py, in the layout each method reads: question and answer
    (SFT), the question with its `solution` for the reward functions (GRPO, PPO), an answer labelled right or wrong
    (KTO), a right and a wrong answer (reward model, ORPO, SimPO, CPO). A wrong answer is one off, or the product."""
    sums = [(a, b) for a in range(1, 10) for b in range(1, 10)][::2]
    questions = [(f"{a} + {b} = ?", str(a + b)) for a, b in sums]
    wrong = [str(a * b if a * b != a + b else a + b + 1) if i % 2 else str(a + b + 1) for i, (a, b) in enumerate(sums)]
    _jsonl("arithmetic_sft_sample.jsonl", [{"query": q, "response": r} for q, r in questions])
    _jsonl("arithmetic_prompts_sample.jsonl", [{"query": q, "solution": r} for q, r in questions])
    _jsonl("arithmetic_kto_sample.jsonl", [
        {"query": q, "response": r if i % 2 else x, "label": bool(i % 2)}
        for i, ((q, r), x) in enumerate(zip(questions, wrong))])
    _jsonl("arithmetic_pairs_sample.jsonl", [
        {"query": q, "response": r, "rejected_response": x} for (q, r), x in zip(questions, wrong)])


if __name__ == "__main__":
    main()
