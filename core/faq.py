"""The article's FAQ (附录：常见问题与解答), answered by what LM Lab measured here: model cards, not prose.

Each of the five questions keeps the article's own answer (quoted as printed) and gets numbers read from the model
cards in the cache, so the page says only what this machine trained and scored:
model choice (held-out accuracy against size), training (what each run cost), evaluation (accuracy against macro-F1
when the classes are imbalanced, computed exactly from a card's confusion matrix), overfitting (runs whose
validation loss rose, runs stopped early) and improvement (pretrained against random starting weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from core import catalog
from core.messages import N_
from core.specs import DEMONSTRATIONS
from core.stats import per_class


@dataclass(frozen=True)
class Question:
    key: str
    asked: str  # the article's question, as printed
    title: str  # in English, for the message catalog
    answer: str  # the article's answer, as printed
    page: str  # the page that shows it live
    page_title: str


QUESTIONS = (
    Question("choose", "如何选择合适的预训练语言模型？", N_("How do I choose a pretrained language model?"),
             "选择合适的预训练语言模型需要根据具体的应用场景和需求。一般来说，根据模型的性能和计算资源，可以选择不同的预训练语言模型。",
             "pages/evaluate.py", N_("Benchmark models side by side")),
    Question("train", "如何训练大规模语言模型？", N_("How are large language models trained?"),
             "训练大规模语言模型需要大量的计算资源和预训练数据。一般来说，可以使用分布式训练、混合精度训练等技术来加速训练过程。",
             "pages/compute.py", N_("Count and measure compute")),
    Question("evaluate", "如何评估大规模语言模型的性能？", N_("How is a model's performance evaluated?"),
             "大规模语言模型的性能可以通过各种自然语言处理任务来评估，例如文本分类、摘要生成、机器翻译等。一般来说，通过准确性、F1-score等"
             "指标来评估模型的性能。", "pages/evaluate.py", N_("Benchmark models side by side")),
    Question("overfit", "如何解决大规模语言模型中的过拟合问题？", N_("How is overfitting dealt with?"),
             "解决大规模语言模型中的过拟合问题可以通过正则化、数据增强、早停等技术来实现。例如，可以使用L1正则化、L2正则化等正则化技术来减少"
             "过拟合。", "pages/train.py", N_("Train a classifier")),
    Question("improve", "如何提高大规模语言模型的性能？", N_("How can a model's performance be improved?"),
             "提高大规模语言模型的性能可以通过各种方法来实现，例如增加模型的深度和宽度、使用更好的优化算法、使用更好的初始化方法等。另外，还"
             "可以通过数据增强、正则化等技术来减少过拟合，提高模型的泛化能力。", "pages/train.py", N_("Train a classifier")),
)  # fmt: skip

# Same data and task, a different starting point: what pretraining buys (the first of each pair is pretrained).
PRETRAINING_PAIRS = (("sentiment-minilm", "sentiment-tiny"), ("topic-minilm", "topic-tiny"),
                     ("sentiment-zh-bert", "sentiment-zh-scratch"))  # fmt: skip


def _estimate(value) -> dict | None:
    """An accuracy as the cards write it ({value, low, high, n}), or None for anything else."""
    if isinstance(value, dict) and all(isinstance(value.get(k), int | float) for k in ("value", "low", "high")):
        return value
    return None


def _confusion(card) -> tuple[list[list[int]], list[str]] | None:
    """A card's held-out confusion matrix and labels when square, non-negative, with every class present."""
    matrix, labels = card.get("confusion"), card.get("labels")
    try:
        table = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        return None
    if (not isinstance(labels, list) or table.ndim != 2 or table.shape != (len(labels), len(labels)) or len(labels) < 2
            or (table < 0).any() or (table.sum(axis=1) == 0).any()):  # fmt: skip
        return None
    return table.tolist(), [str(label) for label in labels]


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _curve(points, *fields: str) -> list[dict]:
    """The points of a card's curve that carry ``fields`` as numbers (an odd card draws what it can)."""
    if not isinstance(points, list):
        return []
    return [p for p in points if isinstance(p, dict) and all(isinstance(p.get(f), int | float) for f in fields)]


def trained_cards() -> list[dict]:
    """Every finished model trained here, as the facts the answers use (newest first); an odd field is left out,
    never allowed to break the page."""
    rows = []
    for spec in catalog.all_specs():
        card = catalog.read_metadata(spec.key) if spec.trained_here else None
        if card is None:
            continue
        metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
        flag = card.get("overfitting")
        data = card.get("data") if isinstance(card.get("data"), dict) else {}
        rows.append({"key": spec.key, "task": str(card.get("task") or spec.task), "dataset": str(data.get("dataset") or ""),
                     "held_out": str(data.get("test_fingerprint") or data.get("dataset") or ""),
                     "accuracy": _estimate(metrics.get("accuracy")), "parameters": _number(card.get("parameters")),
                     "train_seconds": _number(card.get("train_seconds")), "device": str(card.get("device") or ""),
                     "precision": str(card.get("precision") or ""), "epochs": _number(card.get("epochs_run")),
                     "created_at": str(card.get("created_at") or ""), "confusion": _confusion(card),
                     "overfitting": flag if isinstance(flag, dict) and isinstance(flag.get("best_epoch"), int | float)
                     else None, "stopped_early": bool(card.get("stopped_early")),
                     "eval_curve": _curve(card.get("eval_curve"), "epoch", "eval_loss"),
                     "loss_curve": _curve(card.get("loss_curve"), "epoch", "loss"),
                     "demonstration": spec.key in DEMONSTRATIONS, **_setup(card)})  # fmt: skip
    return sorted(rows, key=lambda row: row["created_at"], reverse=True)


REMEDIES = ("epochs", "patience", "dropout", "weight_decay", "augment", "augment_p")  # what a student changes to fight
# overfitting, on the Train page


def _setup(card) -> dict:
    """Everything a run was trained with except the remedies — task, starting point (a from-scratch model's size
    too), the data (its held-out split's fingerprint), every other setting — and the remedies it used: two runs
    with the same setup and different remedies are a before/after pair."""
    hyper = card.get("hyperparameters") if isinstance(card.get("hyperparameters"), dict) else {}
    recipe = card.get("recipe") if isinstance(card.get("recipe"), dict) else {}
    data = card.get("data") if isinstance(card.get("data"), dict) else {}
    ignored = {*REMEDIES, "key", "title", "description", "checkpointing"}  # checkpointing changes no number
    settings = {name: value for name, value in {**hyper, **recipe}.items() if name not in ignored}
    if settings.get("freeze_word_embeddings") is False:  # off: as a card from before the option existed reads
        del settings["freeze_word_embeddings"]
    setup = (str(card.get("task")), str(card.get("base")), str(data.get("dataset")), str(data.get("test_fingerprint")),
             json.dumps(settings, sort_keys=True, default=str))  # fmt: skip
    return {"setup": setup, "remedies": {name: hyper.get(name, recipe.get(name)) for name in REMEDIES}}


def remedy_pairs(cards: list[dict]) -> list[tuple[dict, dict, list[str]]]:
    """Pairs of runs trained on the same setup whose remedies differ (the newer second), with the settings that
    changed: a before/after comparison from real runs."""
    found = []
    usable = [c for c in cards if c.get("accuracy") and not c.get("demonstration")]
    for index, newer in enumerate(usable):
        for older in usable[index + 1 :]:
            changed = [name for name in REMEDIES if older["remedies"].get(name) != newer["remedies"].get(name)]
            if older["setup"] == newer["setup"] and changed:
                found.append((older, newer, changed))
    return found


def under_prior(confusion: list[list[int]], prior: list[float]) -> dict:
    """Accuracy and macro-F1 the model would score on a test set whose classes come in ``prior`` shares, from its
    confusion matrix (rows true, columns predicted): each class's row keeps its recall pattern, only its weight
    changes. The same for the majority-class baseline (always the largest class)."""
    matrix = np.asarray(confusion, dtype=float)
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)  # P(predicted | true)
    weights = np.asarray(prior, dtype=float) / sum(prior)
    expected = rows * weights[:, None]
    majority = np.zeros_like(expected)
    majority[:, int(np.argmax(weights))] = weights

    def scores(table: np.ndarray) -> tuple[float, float]:
        classes = per_class(table)
        return float(np.trace(table)), float(np.mean([c["f1"] for c in classes]))

    (accuracy, f1), (base_accuracy, base_f1) = scores(expected), scores(majority)
    return {"accuracy": accuracy, "macro_f1": f1, "majority_accuracy": base_accuracy, "majority_macro_f1": base_f1}


def under_prior_ci(confusion: list[list[int]], prior: list[float], *, seed: int = 0,
                   resamples: int = 2000) -> dict[str, tuple[float, float]]:  # fmt: skip
    """95 % intervals of ``under_prior``'s accuracy and macro-F1, the shares of the classes kept fixed: each class's
    row of the confusion matrix (where its held-out texts went) drawn from its posterior under Jeffreys' prior,
    Dirichlet(counts + ½). A plain bootstrap would redraw a class with no error as error-free every time and give a
    zero-width interval; with 25 of 25 right the recall is still only known to be above about 90 %."""
    matrix = np.asarray(confusion, dtype=float)
    rng = np.random.default_rng(seed)
    found = {"accuracy": [], "macro_f1": []}
    for _ in range(resamples):
        drawn = np.array([rng.dirichlet(row + 0.5) for row in matrix])  # each row's shares: P(predicted | true)
        scores = under_prior(drawn.tolist(), prior)
        found["accuracy"].append(scores["accuracy"])
        found["macro_f1"].append(scores["macro_f1"])
    return {name: tuple(float(q) for q in np.quantile(values, [0.025, 0.975])) for name, values in found.items()}


def pretraining_pairs(cards: list[dict]) -> list[tuple[dict, dict]]:
    """The (pretrained, from random weights) pairs whose two models are both trained here."""
    by_key = {card["key"]: card for card in cards if card["accuracy"]}
    return [(by_key[a], by_key[b]) for a, b in PRETRAINING_PAIRS if a in by_key and b in by_key]
