"""The answers of several models to the same questions, side by side: what a compare() group of a run recorded.

Each model's stage is a batch `swift infer` over one questions file, so its answers come in the file's order
(ms-swift does not shuffle a --val_dataset) and line up by position. An evaluate() group is the same table with
no questions: each model's `swift eval` scores.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from swiftpipe.recipe.sweep import SEPARATOR
from swiftpipe.records.run_record import RunRecord


@dataclass
class Comparison:
    name: str
    labels: list[str] = field(default_factory=list)  # the models, in chain order
    questions: list[str | None] = field(default_factory=list)
    references: list[str | None] = field(default_factory=list)
    answers: dict[str, list[str | None]] = field(default_factory=dict)  # by label, a list in question order
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # by label: rouge-l, bleu-4, acc, ...
    missing: dict[str, str] = field(default_factory=dict)  # by label: why it has no answers (its stage's state)

    def answer(self, label: str, i: int) -> str:
        """Model `label`'s answer to question `i`; why it has none, when its stage gave none."""
        answers = self.answers[label]
        return (answers[i] if i < len(answers) else None) or self.missing.get(label, "")

    @property
    def headline_scores(self) -> list[str]:
        """The scores a terminal table shows: each dataset's main score, not every metric EvalScope reports beside
        it (`general_qa`, not `general_qa mean_Rouge-1-P`)."""
        names = self.score_names
        return [n for n in names if " " not in n] or names

    @property
    def main_score(self) -> str | None:
        """The score that ranks the models: ROUGE-L for compare(metric="rouge"), accuracy for "acc", else the first
        one shown."""
        names = self.headline_scores
        return next((n for n in ("rouge-l", "acc") if n in names), names[0] if names else None)

    def best(self) -> tuple[str, str, float] | None:
        """In a sweep, the variant model with the highest main score: (label, score, value); None elsewhere."""
        score = self.main_score
        scored = [(self.scores[label][score], label) for label in self.labels
                  if SEPARATOR in label and score in self.scores[label]] if score is not None else []
        if score is None or not scored:
            return None
        value, label = max(scored)
        return label, score, value

    @property
    def score_names(self) -> list[str]:
        names: list[str] = []
        for scores in self.scores.values():
            names += [n for n in scores if n not in names]
        return names


def comparisons(record: RunRecord) -> list[Comparison]:
    """Every compare() group of the run, in chain order."""
    found: dict[str, Comparison] = {}
    for name, entry in record.stages.items():
        if entry.group is None:
            continue
        comparison = found.setdefault(entry.group, Comparison(entry.group))
        label = entry.label or name
        comparison.labels.append(label)
        comparison.answers[label] = [a.answer for a in entry.answers]
        comparison.scores[label] = dict(entry.scores)
        if not entry.answers:
            comparison.missing[label] = entry.reason or entry.state.value
        if len(entry.answers) > len(comparison.questions):
            comparison.questions = [a.question for a in entry.answers]
            comparison.references = [a.reference for a in entry.answers]
    return list(found.values())
