"""The Robustness page's typing-mistake attack, compared: the same greedy attack on the same held-out texts against
one classifier computed three ways (PyTorch fp32, ONNX Runtime fp32 and int8, as LM Lab can serve it) and against
baselines (TF-IDF + logistic regression fitted on the dataset's training split; the VADER lexicon for English
polarity).

Each row is attacked through its own answers: the occlusion that picks which word to mistype first reads that
row's scores (a score-based attack, the same procedure for every row), on the same held-out texts in the same
fixed order, with the same edit rules. From the app the comparison runs in a process of its own, like a benchmark
(``python -m core.bench.attack``; counted against the benchmark job limit): it loads the model again three times
and fits TF-IDF, which the server's memory should not pay for. A row that cannot be computed (a model too large to
export, an export that failed before) is reported with its reason; the others stand.
"""

from __future__ import annotations

import sys
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
    """A ``classify(texts)`` the attack reads (``.label``, ``.scores``) from an adapter's scores."""

    def classify(texts: list[str]) -> list[_Answer]:
        rows = adapter.probabilities(list(texts))
        return [_Answer(labels[int(row.argmax())], {label: float(p) for label, p in zip(labels, row, strict=True)})
                for row in rows]  # fmt: skip

    return classify


def _split_of(dataset: str):
    found = dataset_split(dataset)
    if found is None:
        raise CoreError(f"LM Lab holds no held-out texts of the dataset {dataset!r}.")
    return found


def english_polarity(dataset: str) -> bool:
    """The dataset is English negative / positive text: the one VADER can read (decided by the data, not the model)."""
    from core.data.text import language_of

    split, labels = _split_of(dataset)
    sample = [e.text for e in list(split.train)[:200]]
    return labels == ["negative", "positive"] and sum(language_of(t) == "en" for t in sample) > len(sample) / 2


def compared(spec: catalog.ModelSpec, dataset: str) -> list[str]:
    """The rows of the comparison for a classifier trained here on ``dataset``: its three runtimes, then baselines."""
    rows = [f"{spec.key}@fp32"]
    if settings.onnx_available():
        rows += [f"{spec.key}@onnx", f"{spec.key}@onnx-int8"]
    rows.append("baseline:tfidf-lr")
    if english_polarity(dataset):
        rows.append("vader")
    return rows


def attack(model_id: str, dataset: str, progress: Callable[[int, int], None] | None = None) -> robustness.Attack:
    """The attack at the caps on ``dataset``'s held-out texts against one benchmark row (``key@variant``, TF-IDF +
    LR fitted on the dataset's training split, or VADER)."""
    split, labels = _split_of(dataset)
    adapter = adapters.make(model_id, labels, [e.text for e in split.train], [e.label for e in split.train])
    texts, truth = robustness.held_out_texts(dataset)
    return robustness.run(classify_with(adapter, labels), texts, truth, progress=progress)


def compare(spec: catalog.ModelSpec, dataset: str, report: Callable[[float], None] = lambda share: None,
            sha256: str | None = None) -> dict[str, robustness.Attack | str]:  # fmt: skip
    """``attack`` on every row of ``compared``, one after another (each model loaded, attacked and let go); a row
    that fails gives its reason instead. With ``sha256``, a retrain of the model during the run fails it."""
    rows = compared(spec, dataset)
    found: dict[str, robustness.Attack | str] = {}
    for n, model_id in enumerate(rows):
        try:
            found[model_id] = attack(model_id, dataset, lambda done, total, n=n: report((n + done / total) / len(rows)))
        except CoreError as error:
            found[model_id] = str(error)
        if sha256 is not None and catalog.weights_sha256(spec) != sha256:
            raise CoreError("The model was retrained during the attack: run it again.")
    return found


def to_json(found: dict[str, robustness.Attack | str]) -> dict:
    return {model_id: attacked if isinstance(attacked, str) else
            [None if r is None else {"text": r.text, "label": r.label, "steps": [list(s) for s in r.steps]}
             for r in attacked.results] for model_id, attacked in found.items()}  # fmt: skip


def from_json(data: dict) -> dict[str, robustness.Attack | str]:
    return {model_id: rows if isinstance(rows, str) else robustness.Attack(
        [None if r is None else robustness.Attacked(r["text"], r["label"], tuple(tuple(s) for s in r["steps"]))
         for r in rows]) for model_id, rows in data.items()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m core.bench.attack --model KEY --dataset NAME --sha256 S --out FILE --progress-file FILE``."""
    from core.bench import background

    return background.child_main(argv, "core.bench.attack", __doc__, ("--model", "--dataset"), "attacking",
                                 lambda args, report: to_json(compare(catalog.get_spec(args.model), args.dataset,
                                                                      report, sha256=args.sha256)))  # fmt: skip


if __name__ == "__main__":
    settings.decide_mode()
    sys.exit(main())
