"""Privacy (隐私性), the article's fourth challenge, measured on the models trained here: does a model give away
which texts it was trained on?

A **loss-threshold membership-inference attack** (Yeom et al. 2018): an attacker who can ask the model for its
loss on a text guesses "it was in the training set" when the loss is low. Members are the texts of the run's
training set (a classifier's training split less the examples it held back for validation, rebuilt from its
model card; a language model's training documents — one trained for less than an epoch, like the Chinese
character GPT's 0.9, saw about that share of them); non-members are the held-out texts. The attack's AUC is the
probability that a random member has a lower loss than a random non-member (0.5: the model gives nothing away),
with a 95 % bootstrap CI; its advantage is the largest gap between the share of members and of non-members
below one threshold, chosen knowing the answers — so it is shown beside the same maximum for texts labelled at
random (its 95th percentile), which is what it reaches for a model that leaks nothing. A model that memorised its
training texts — the tiny models trained from scratch on 150 sentences — is easy to attack; one that
generalises is not.

Personal data in text (**PII**): URLs, e-mail addresses, phone numbers (Chinese and North American formats, with
an optional country code, and any number written with + and its country code) and Chinese resident ID numbers (their check digit verified), found and masked before a
text is trained on.
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
    chance_advantage: float  # the 95th percentile of that maximum when membership is assigned at random


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
    fpr, tpr = roc_points(members, others)
    chance = [_advantage(*roc_points(*_relabelled(members, others, rng))) for _ in range(CHANCE_DRAWS)]
    return Attack(members, others, auc_lower_is_member(members, others), float(low), float(high),
                  _advantage(fpr, tpr), fpr, tpr, float(np.quantile(chance, 0.95)))  # fmt: skip


CHANCE_DRAWS = 500


def roc_points(members: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) when "member" means a loss at most the threshold, for every threshold, from (0, 0) to (1, 1)."""
    losses = np.concatenate([members, others])
    is_member = np.concatenate([np.ones(len(members)), np.zeros(len(others))])
    order = np.argsort(losses, kind="stable")
    losses, is_member = losses[order], is_member[order]
    last = np.r_[losses[1:] != losses[:-1], True]  # a threshold takes every text of a tied loss at once
    tpr = np.cumsum(is_member)[last] / len(members)
    fpr = np.cumsum(1 - is_member)[last] / len(others)
    return np.r_[0.0, fpr], np.r_[0.0, tpr]


def _advantage(fpr: np.ndarray, tpr: np.ndarray) -> float:
    return float((tpr - fpr).max())


def _relabelled(members: np.ndarray, others: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The same losses with "member" given to random texts: what the best threshold finds in a model that leaks
    nothing."""
    pooled = rng.permutation(np.concatenate([members, others]))
    return pooled[: len(members)], pooled[len(members) :]


def _spread(items: list, most: int) -> list:
    """At most ``most`` items, evenly spread over the list (the same ones every time)."""
    step = max(1, math.ceil(len(items) / most))
    return items[::step][:most]


def classifier_texts(spec: catalog.ModelSpec) -> tuple[list, list]:
    """(members, non-members) of a classifier trained here on a named dataset: Examples with text and label."""
    from core.tasks.base import dataset_split
    from core.training.prepare import training_part

    card = catalog.read_metadata(spec.key)
    recipe = card.recipe if card is not None else {}
    found = dataset_split(recipe.get("dataset", ""))
    if card is None or found is None:
        raise CoreError(Message("{name} was not trained here on one of LM Lab's datasets: there is no list of its "
                                "training texts to test.", name=spec.title))  # fmt: skip
    split, _ = found
    _, members, _ = training_part(list(split.train), recipe)
    return _spread(members, MAX_TEXTS), _spread(list(split.test), MAX_TEXTS)


def classifier_losses(classify, examples: list) -> np.ndarray:
    """−log p(true label) of each example from ``classify(texts)`` (results with ``.scores``)."""
    from core import settings

    limit = settings.limits().max_chars  # a page refuses longer texts; the model reads far fewer tokens anyway
    results = classify([e.text[:limit] for e in examples])
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
    found = []
    for start in range(0, len(ids), DOCUMENTS_PER_HOLD):  # the model is let go between groups: others get their turn
        with lm.exclusive() as model:
            found += documents_nll(model, ids[start : start + DOCUMENTS_PER_HOLD], min(lm.context, 128))
    return np.array([total / max(count, 1) for total, count in found])


DOCUMENTS_PER_HOLD = 16  # about a second of a shared GPT's time on 2 cores


# --- personal data ----------------------------------------------------------------------------------------

PII_PATTERNS = {  # tried in this order; a later match never overlaps an earlier one
    # a URL first (an address inside it is part of it), ending on a character that is no sentence punctuation
    "URL": re.compile(r"(?:https?://|www\.)[^\s<>\"'，。！？；、）]{0,2000}[^\s<>\"'，。！？；、）.,;:!?)\]]", re.IGNORECASE),
    # bounded and anchored: a long run of letters or dots costs linear time, not quadratic
    "e-mail": re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
                         r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"),
    "Chinese ID": re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"),
    # a Chinese mobile (1[3-9] and 9 digits), a Chinese landline (0 area code - 7 or 8 digits), a North American
    # number ((415) 555-2671, 415-555-2671), each with an optional +country code; or any number written
    # internationally, + and the country code, in groups (+44 20 7946 0958, +33 1 42 68 53 00) or in one run
    # (+493012345678). Groups are separated, so a run of digits splits one way only (linear time); 7 to 15
    # digits in all (E.164's most) is checked in _find.
    "phone": re.compile(r"(?<![0-9A-Za-z+])(?:(?:\+\d{1,3}[\s-]?)?(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}-\d{7,8}"
                        r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}|\d{3}[\s.-]\d{3}[\s.-]\d{4})"
                        r"|\+(?:\d{7,15}|\d{1,3}(?:[ .-]?\(\d{1,5}\)|[ .-]\d{1,8}){2,6}))(?!\d)"),
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


def phone_end(text: str, start: int, end: int) -> int | None:
    """Where a phone number matched at [start, end) ends: groups of digits that follow it (a year, a page number)
    are cut off until it has at most 15 digits, E.164's most; None when fewer than 7 are left."""
    piece = text[start:end]
    while sum(ch.isdigit() for ch in piece) > 15:
        cut = max(piece.rfind(" "), piece.rfind("-"), piece.rfind("."))
        if cut <= 0:
            return None
        piece = piece[:cut].rstrip(" .-(")
    return start + len(piece) if sum(ch.isdigit() for ch in piece) >= 7 else None


@dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int
    text: str


def find_pii(text: str) -> list[Found]:
    """Every URL, e-mail address, Chinese ID number (check digit verified) and phone number, without overlaps (in
    that order of precedence); a text over MAX_PII_CHARS is refused (the page's box)."""
    if len(text) > MAX_PII_CHARS:
        raise CoreError(Message("At most {most} characters at once; this text has {count}.", most=MAX_PII_CHARS,
                                count=len(text)))  # fmt: skip
    return _find(text)


def _find(text: str) -> list[Found]:
    found: list[Found] = []
    taken = np.zeros(len(text) + 1, dtype=bool)
    for kind, pattern in PII_PATTERNS.items():
        for match in pattern.finditer(text):
            if taken[match.start() : match.end()].any():
                continue
            if kind == "Chinese ID" and not valid_chinese_id(match.group()):
                continue
            end = phone_end(text, match.start(), match.end()) if kind == "phone" else match.end()
            if end is None:
                continue
            found.append(Found(kind, match.start(), end, text[match.start() : end]))
            taken[match.start() : end] = True
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
    for text in texts:  # an upload's cells: the file itself is capped (5 MB), and the patterns run in linear time
        counts.update(item.kind for item in _find(text))
    return dict(counts)


def mask_all(text: str) -> str:
    """``mask`` for a cell of an upload, whatever its length."""
    return mask(text, _find(text))


# --- the canary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    rank: int  # candidates at least as likely as the secret, the secret included (1 = the likeliest)
    candidates: int
    exposure: float  # log2(candidates) − log2(rank), in bits
    secret_nll: float  # negative log-likelihood of the sentence with the secret, in nats
    counts: list[int]  # a histogram of every candidate's NLL: counts per bin …
    edges: list[float]  # … and the bins' edges
    likeliest: list[tuple[str, float]]  # the five likeliest candidates with their NLL


def canary_exposure(lm) -> Exposure:
    """Carlini et al.'s exposure of the planted secret: every sentence ``my secret code is d d d d.`` (digits 1–9:
    6,561 of them, the secret among them) scored by the model, and the secret's rank among them as the paper counts
    it (the candidates whose likelihood is at least the secret's)."""
    import itertools

    from core.data.corpora import CANARY_DIGITS, CANARY_SECRET, canary_sentence
    from core.tasks.generate import documents_nll

    codes = [" ".join(digits) for digits in itertools.product(CANARY_DIGITS, repeat=4)]
    eos = lm.tokenizer.eos_token_id
    ids = [[eos, *lm.tokenizer(canary_sentence(code), split_special_tokens=True)["input_ids"]] for code in codes]
    with lm.exclusive() as model:
        found = documents_nll(model, ids, min(lm.context, 128), batch=256)
    nlls = np.array([total for total, _count in found])
    secret = float(nlls[codes.index(CANARY_SECRET)])
    rank = int((nlls <= secret).sum())
    counts, edges = np.histogram(nlls, bins=60)
    order = np.argsort(nlls, kind="stable")[:5]
    return Exposure(rank, len(codes), float(np.log2(len(codes)) - np.log2(rank)), secret, counts.tolist(),
                    edges.tolist(), [(codes[i], float(nlls[i])) for i in order])  # fmt: skip
