"""Privacy (隐私性), the article's fourth challenge, measured on the models trained here: does a model give away
which texts it was trained on?

A **loss-threshold membership-inference attack** (Yeom et al. 2018): an attacker who can ask the model for its
loss on a text guesses "it was in the training set" when the loss is low. Members are the exact texts the run
trained on (its training split less the examples it held back for validation, rebuilt from its model card);
non-members are the held-out texts. The attack's AUC is the probability that a random member has a lower loss
than a random non-member (0.5: the model gives nothing away), with a 95 % bootstrap CI; its advantage is the
largest gap between the share of members and of non-members below one threshold. A model that memorised its
training texts — the tiny models trained from scratch on 150 sentences — is easy to attack; one that
generalises is not.

Personal data in text (**PII**): e-mail addresses, URLs, phone numbers (international and Chinese formats) and
Chinese resident ID numbers (their check digit verified), found and masked before a text is trained on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from core import catalog
from core.errors import CoreError
from core.messages import Message

MAX_TEXTS = 200  # members and non-members each: the attack asks the model about at most 400 texts


@dataclass(frozen=True)
class Attack:
    member_losses: np.ndarray
    other_losses: np.ndarray
    auc: float
    auc_low: float
    auc_high: float
    advantage: float  # max over thresholds of (share of members below) − (share of non-members below)
    fpr: np.ndarray  # the ROC curve, thresholds from low to high loss
    tpr: np.ndarray


def auc_lower_is_member(members: np.ndarray, others: np.ndarray) -> float:
    """P(a member's loss < a non-member's) + ½ P(equal): the Mann–Whitney form of the ROC AUC."""
    combined = np.concatenate([members, others])
    ranks = _ranks(-combined)  # a lower loss ranks higher
    n, m = len(members), len(others)
    return float((ranks[:n].sum() - n * (n + 1) / 2) / (n * m))


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def attack(members: np.ndarray, others: np.ndarray, *, seed: int = 0, resamples: int = 2000) -> Attack:
    """The loss-threshold attack on two sets of per-text losses."""
    members, others = np.asarray(members, float), np.asarray(others, float)
    if len(members) < 2 or len(others) < 2:
        raise CoreError(Message("The attack needs at least two training and two held-out texts."))
    rng = np.random.default_rng(seed)
    aucs = [auc_lower_is_member(members[rng.integers(0, len(members), len(members))],
                                others[rng.integers(0, len(others), len(others))]) for _ in range(resamples)]  # fmt: skip
    low, high = np.quantile(aucs, [0.025, 0.975])
    thresholds = np.unique(np.concatenate([members, others]))
    tpr = np.array([0.0, *[(members <= t).mean() for t in thresholds]])
    fpr = np.array([0.0, *[(others <= t).mean() for t in thresholds]])
    return Attack(members, others, auc_lower_is_member(members, others), float(low), float(high),
                  float((tpr - fpr).max()), fpr, tpr)  # fmt: skip


def _spread(items: list, most: int) -> list:
    """At most ``most`` items, evenly spread over the list (the same ones every time)."""
    step = max(1, math.ceil(len(items) / most))
    return items[::step][:most]


def classifier_texts(spec: catalog.ModelSpec) -> tuple[list, list]:
    """(members, non-members) of a classifier trained here on a named dataset: Examples with text and label."""
    from core.tasks.base import dataset_split
    from core.training.prepare import hold_out_validation

    card = catalog.read_metadata(spec.key)
    recipe = card.recipe if card is not None else {}
    found = dataset_split(recipe.get("dataset", ""))
    if card is None or found is None:
        raise CoreError(Message("{name} was not trained here on one of LM Lab's datasets: there is no list of its "
                                "training texts to test.", name=spec.title))  # fmt: skip
    split, _ = found
    members, _ = hold_out_validation(list(split.train), float(recipe.get("validation_fraction") or 0),
                                     int(recipe.get("seed", 42)))  # fmt: skip
    return _spread(members, MAX_TEXTS), _spread(list(split.test), MAX_TEXTS)


def classifier_losses(classify, examples: list) -> np.ndarray:
    """−log p(true label) of each example from ``classify(texts)`` (results with ``.scores``)."""
    results = classify([e.text for e in examples])
    return np.array([-math.log(max(r.scores.get(e.label, 0.0), 1e-12)) for r, e in zip(results, examples, strict=True)])


def lm_documents(spec: catalog.ModelSpec) -> tuple[list[str], list[str]]:
    """(members, non-members) of a language model trained here: its training documents and the held-out ones."""
    from core.tasks.generate import lm_corpus

    card = catalog.read_metadata(spec.key)
    if card is None:
        raise CoreError(Message("{name} was not trained here: there is no list of its training texts to test.",
                                name=spec.title))  # fmt: skip
    train, test = lm_corpus(card.recipe.get("dataset", "lee")).split()
    examples = int(card.recipe.get("examples") or 0)
    train = list(train[:examples] if examples else train)
    return _spread(train, MAX_TEXTS), _spread(list(test), MAX_TEXTS)


def lm_losses(lm, documents: list[str]) -> np.ndarray:
    """Mean negative log-likelihood per token of each document (the model's loss on it), the model held per pass."""
    from core.tasks.generate import documents_nll

    ids = [[lm.tokenizer.eos_token_id, *lm.tokenizer(text, split_special_tokens=True)["input_ids"]] for text in documents]
    with lm.exclusive() as model:
        found = documents_nll(model, ids, min(lm.context, 128))
    return np.array([total / max(count, 1) for total, count in found])


# --- personal data ----------------------------------------------------------------------------------------

PII_PATTERNS = {
    "e-mail": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "URL": re.compile(r"(?:https?://|www\.)[^\s<>\"'，。！？；、）]+", re.IGNORECASE),
    "Chinese ID": re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),
    # a Chinese mobile (1[3-9] and 9 digits), a Chinese landline (0 area code - 7 or 8 digits), a North American
    # number ((415) 555-2671, 415-555-2671), each with an optional +country code
    "phone": re.compile(r"(?<![0-9A-Za-z+])(?:\+\d{1,3}[\s-]?)?(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}-\d{7,8}"
                        r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}|\d{3}[\s.-]\d{3}[\s.-]\d{4})(?!\d)"),
}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MAX_PII_CHARS = 200_000


def valid_chinese_id(number: str) -> bool:
    """The check digit of an 18-character resident ID (GB 11643-1999: weights 2^(17−i) mod 11)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == number[17].upper()


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int
    text: str


def find_pii(text: str) -> list[Found]:
    """Every e-mail address, URL, Chinese ID number (check digit verified) and phone number, without overlaps
    (an e-mail or URL first, then IDs, then phones)."""
    if len(text) > MAX_PII_CHARS:
        raise CoreError(Message("At most {most} characters at once; this text has {count}.", most=MAX_PII_CHARS,
                                count=len(text)))  # fmt: skip
    found: list[Found] = []
    taken = np.zeros(len(text) + 1, dtype=bool)
    for kind, pattern in PII_PATTERNS.items():
        for match in pattern.finditer(text):
            if taken[match.start() : match.end()].any():
                continue
            if kind == "Chinese ID" and not valid_chinese_id(match.group()):
                continue
            found.append(Found(kind, match.start(), match.end(), match.group()))
            taken[match.start() : match.end()] = True
    return sorted(found, key=lambda item: item.start)


def mask(text: str, found: list[Found] | None = None) -> str:
    """``text`` with each piece of personal data replaced by its kind in brackets, e.g. [e-mail]."""
    found = find_pii(text) if found is None else found
    out, last = [], 0
    for item in found:
        out += [text[last : item.start], f"[{item.kind}]"]
        last = item.end
    return "".join([*out, text[last:]])


def pii_counts(texts: list[str]) -> dict[str, int]:
    """How many pieces of personal data of each kind the texts hold (a text longer than the finder's cap counts up to
    the cap)."""
    from collections import Counter

    counts: Counter = Counter()
    for text in texts:
        counts.update(item.kind for item in find_pii(text[:MAX_PII_CHARS]))
    return dict(counts)


def mask_all(text: str) -> str:
    """``mask`` for a text of any length (masked a cap's worth at a time)."""
    return "".join(mask(text[i : i + MAX_PII_CHARS]) for i in range(0, len(text), MAX_PII_CHARS))
