"""The Robustness page's typing-mistake attack, compared: the same greedy attack on the same held-out texts against
one classifier computed three ways (PyTorch fp32, ONNX Runtime fp32 and int8, as LM Lab can serve it) and against
the baselines fitted on its training split (TF-IDF + logistic regression; VADER for English polarity).

Each row is attacked through its own answers: the occlusion that picks which word to mistype first reads that
row's probabilities, so every row faces the attack at its own weakest words (a white-box attack per row, the
same procedure for all). The rows share the held-out texts, in the same fixed order, and the edit rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core import catalog, settings
from core.bench import adapters
from core.errors import CoreError
from core.tasks import robustness
from core.tasks.base import dataset_split


@dataclass(frozen=True)
class _Answer:
    label: str
    scores: dict[str, float]


def classify_with(adapter: adapters.Adapter, labels: list[str]) -> Callable[[list[str]], list[_Answer]]:
    """A ``classify(texts)`` the attack reads (``.label``, ``.scores``) from an adapter's probabilities."""

    def classify(texts: list[str]) -> list[_Answer]:
        rows = adapter.probabilities(list(texts))
        return [_Answer(labels[int(row.argmax())], {label: float(p) for label, p in zip(labels, row, strict=True)})
                for row in rows]  # fmt: skip

    return classify


def compared(spec: catalog.ModelSpec, dataset: str) -> list[str]:
    """The rows of the comparison for a classifier trained here on ``dataset``: its three runtimes, then baselines."""
    _split, labels = _split_of(dataset)
    rows = [f"{spec.key}@fp32"]
    if settings.onnx_available():
        rows += [f"{spec.key}@onnx", f"{spec.key}@onnx-int8"]
    rows.append("baseline:tfidf-lr")
    if labels == ["negative", "positive"] and "en" in spec.languages:
        rows.append("vader")
    return rows


def _split_of(dataset: str):
    found = dataset_split(dataset)
    if found is None:
        raise CoreError(f"LM Lab holds no held-out texts of the dataset {dataset!r}.")
    return found


def attack(model_id: str, dataset: str, progress: Callable[[int, int], None] | None = None) -> robustness.Attack:
    """The attack at the caps on ``dataset``'s held-out texts against one benchmark row (``key@variant``, a
    baseline fitted on the dataset's training split, or VADER)."""
    split, labels = _split_of(dataset)
    adapter = adapters.make(model_id, labels, [e.text for e in split.train], [e.label for e in split.train])
    texts, truth = robustness.held_out_texts(dataset)
    return robustness.run(classify_with(adapter, labels), texts, truth, progress=progress)


def compare(spec: catalog.ModelSpec, dataset: str,
            report: Callable[[float], None] = lambda share: None) -> dict[str, robustness.Attack]:  # fmt: skip
    """``attack`` on every row of ``compared``, one after another (each model loaded, attacked and let go)."""
    rows = compared(spec, dataset)
    found = {}
    for n, model_id in enumerate(rows):
        found[model_id] = attack(model_id, dataset, lambda done, total, n=n: report((n + done / total) / len(rows)))
    return found
