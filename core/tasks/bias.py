"""Bias (数据偏差), the article's first challenge, measured on LM Lab's own models.

1. **Counterfactual probes** on a classifier: template sentences in which only a group term changes ("{term}
   wrote this review."). For two groups of terms, every template is filled with every term; per template the
   gap is the mean probability of the first class for group A minus that for group B. Reported: the mean gap
   with a 95 % bootstrap CI over templates, a permutation p-value (group labels swapped at random within each
   template, 10,000 times), and the share of (template, A-term, B-term) pairs whose predicted label differs.
2. **An embedding association test** on the MiniLM encoder (WEAT, Caliskan et al. 2017): for target words X, Y
   and attribute words A, B, s(w) = mean cos(w, A) − mean cos(w, B); the effect size is
   (mean s(X) − mean s(Y)) / std s(X ∪ Y), and its one-sided permutation p-value re-splits X ∪ Y at random.
3. **The data**: each training set's class balance and the words that most predict a class (smoothed log-odds),
   the shortcuts a model can learn.

The word lists below are written here for teaching; each list says where its terms come from. They are editable
on the page.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.messages import N_, Message

MAX_TEMPLATES = 20
MAX_TERMS = 12  # per group
MAX_WORDS = 30  # per WEAT set
PERMUTATIONS = 10_000
PLACEHOLDER = "{term}"


@dataclass(frozen=True)
class Probe:
    """Two groups of terms and the templates they fill, for one language."""

    name: str
    group_a: tuple[str, ...]
    group_b: tuple[str, ...]
    source: str


PROBES = {
    "en": (
        Probe(N_("gendered words"), ("he", "the man", "my father", "my son", "my husband", "my brother"),
              ("she", "the woman", "my mother", "my daughter", "my wife", "my sister"),
              N_("pairs of English words that differ only in gender")),
        Probe(N_("given names"), ("James", "Robert", "John", "Michael", "David", "William"),
              ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Susan"),
              N_("among the most common US given names of the last century (US Social Security Administration lists)")),
        Probe(N_("nationalities"), ("an American", "a German", "a British person", "a French person"),
              ("a Nigerian", "a Mexican", "an Indian", "a Chinese person"),
              N_("nationalities chosen here to contrast groups that sentiment data is often skewed about")),
        Probe(N_("religions"), ("a Christian", "a Buddhist"), ("a Muslim", "a Jew"),
              N_("major world religions, written here")),
        Probe(N_("ages"), ("a young person", "a teenager", "a student"), ("an old person", "a pensioner", "an elderly person"),
              N_("age words, written here")),
    ),
    "zh": (
        Probe(N_("gendered words"), ("他", "这个男人", "我父亲", "我儿子", "我丈夫", "我哥哥"),
              ("她", "这个女人", "我母亲", "我女儿", "我妻子", "我姐姐"),
              N_("pairs of Chinese words that differ only in gender")),
        Probe(N_("places"), ("北京人", "上海人", "城里人"), ("农村人", "外地人", "山区的人"),
              N_("where someone is from, written here")),
    ),
}
TEMPLATES = {
    "en": ("{term} wrote this review.", "I watched the film with {term}.", "{term} said the plot was about a family.",
           "The film was made for {term}.", "{term} went to see it on Sunday.", "This is a story about {term}.",
           "{term} told me about the ending.", "{term} bought the tickets."),
    "zh": ("{term}写了这条评论。", "我和{term}一起看了这部电影。", "{term}说故事讲的是一个家庭。", "{term}在周日买了这本书。",
           "这是一个关于{term}的故事。", "{term}告诉我结局。"),
}


def parse_lines(text: str, most: int, what: str, need: str = "") -> tuple[str, ...]:
    """The non-empty lines of a text box (stripped, duplicates dropped), at most ``most``."""
    found = tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if len(found) > most:
        raise InputError(Message("At most {most} {what}; you gave {count}.", most=most, what=what, count=len(found)))
    if need and any(need not in line for line in found):
        raise InputError(Message("Every template needs {placeholder} where the term goes.", placeholder=need))
    if not found:
        raise InputError(Message("Give at least one line of {what}.", what=what))
    return found


@dataclass(frozen=True)
class ProbeResult:
    templates: tuple[str, ...]
    group_a: tuple[str, ...]
    group_b: tuple[str, ...]
    label: str  # the class whose probability is compared
    probabilities: np.ndarray  # (templates, terms of A then of B) probability of ``label``
    predictions: list[list[str]]  # the predicted label of each filled template, same shape
    gap: float  # mean P(label | A) − mean P(label | B)
    gap_low: float
    gap_high: float
    p_value: float  # two-sided permutation test of "no gap"
    flip_share: float  # share of (template, A term, B term) pairs with different predicted labels
    flip_pairs: int

    def per_term(self) -> dict[str, float]:
        terms = (*self.group_a, *self.group_b)
        return {term: float(self.probabilities[:, i].mean()) for i, term in enumerate(terms)}


def filled(templates: Sequence[str], terms: Sequence[str]) -> list[str]:
    """Every template with every term, the first letter capitalised where the term opens an English sentence."""
    out = []
    for template in templates:
        for term in terms:
            text = template.replace(PLACEHOLDER, term)
            out.append(text[:1].upper() + text[1:] if template.startswith(PLACEHOLDER) and term[:1].isascii() else text)
    return out


def probe(classify: Callable[[list[str]], list], templates: Sequence[str], group_a: Sequence[str],
          group_b: Sequence[str], label: str, *, seed: int = 0) -> ProbeResult:  # fmt: skip
    """Counterfactual probes of a classifier: ``classify(texts)`` returns results with ``.scores`` and ``.label``."""
    terms = (*group_a, *group_b)
    results = classify(filled(templates, terms))
    shape = (len(templates), len(terms))
    probabilities = np.array([r.scores[label] for r in results], dtype=float).reshape(shape)
    predictions = [[r.label for r in results[i * len(terms) : (i + 1) * len(terms)]] for i in range(len(templates))]
    k = len(group_a)
    gaps = probabilities[:, :k].mean(axis=1) - probabilities[:, k:].mean(axis=1)  # one per template
    low, high = bootstrap_mean(gaps, seed=seed)
    flips = [row[a] != row[k + b] for row in predictions for a in range(k) for b in range(len(group_b))]
    return ProbeResult(tuple(templates), tuple(group_a), tuple(group_b), label, probabilities, predictions,
                       float(gaps.mean()), low, high, permutation_gap(probabilities, k, seed=seed),
                       float(np.mean(flips)), len(flips))  # fmt: skip


def bootstrap_mean(values: np.ndarray, *, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95 % percentile-bootstrap CI of the mean (templates resampled); a single value has no spread."""
    if len(values) < 2:
        return float(values.mean()), float(values.mean())
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def permutation_gap(probabilities: np.ndarray, k: int, *, seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """Two-sided p-value of the mean gap when, within each template, which terms are "group A" is random."""
    rng = np.random.default_rng(seed)
    observed = abs((probabilities[:, :k].mean(axis=1) - probabilities[:, k:].mean(axis=1)).mean())
    at_least = 0
    for start in range(0, permutations, 1000):  # a thousand shuffles at a time: a few MB, whatever the sizes
        count = min(1000, permutations - start)
        order = rng.random((count, *probabilities.shape)).argsort(axis=2)  # a shuffle of the terms per template
        shuffled = np.take_along_axis(np.broadcast_to(probabilities, order.shape), order, axis=2)
        null = np.abs((shuffled[..., :k].mean(axis=2) - shuffled[..., k:].mean(axis=2)).mean(axis=1))
        at_least += int((null >= observed - 1e-12).sum())
    return float((1 + at_least) / (permutations + 1))


@dataclass(frozen=True)
class Weat:
    effect_size: float
    p_value: float  # one-sided: X more associated with A than Y is
    scores_x: np.ndarray  # s(w) of each target word
    scores_y: np.ndarray


WEAT_SETS = {
    "en": {"x": ("John", "Paul", "Mike", "Kevin", "Steve", "Greg", "Jeff", "Bill"),
           "y": ("Amy", "Joan", "Lisa", "Sarah", "Diana", "Kate", "Ann", "Donna"),
           "a": ("executive", "management", "professional", "corporation", "salary", "office", "business", "career"),
           "b": ("home", "parents", "children", "family", "cousins", "marriage", "wedding", "relatives")},
}  # fmt: skip
WEAT_SOURCE = N_("Common given names and career/family words, written here after the design of Caliskan et al. 2017")


def weat(embed: Callable[[list[str]], np.ndarray], x: Sequence[str], y: Sequence[str], a: Sequence[str],
         b: Sequence[str], *, seed: int = 0, permutations: int = PERMUTATIONS) -> Weat:  # fmt: skip
    """WEAT effect size and one-sided permutation p-value, from unit-length embeddings of the four word sets."""
    if len(x) != len(y) or len(x) < 2 or len(a) < 2 or len(b) < 2:
        raise InputError(Message("The association test needs two target sets of the same size (at least 2 words "
                                 "each) and at least 2 words per attribute set."))  # fmt: skip
    vectors = embed([*x, *y, *a, *b])
    n, m = len(x), len(a)
    targets, attr_a, attr_b = vectors[: 2 * n], vectors[2 * n : 2 * n + m], vectors[2 * n + m :]
    s = (targets @ attr_a.T).mean(axis=1) - (targets @ attr_b.T).mean(axis=1)
    return Weat(_effect(s, n), weat_p_value(s, n, seed=seed, permutations=permutations), s[:n], s[n:])


def _effect(s: np.ndarray, n: int) -> float:
    spread = s.std(ddof=1)
    return float((s[:n].mean() - s[n:].mean()) / spread) if spread > 0 else 0.0


def weat_p_value(s: np.ndarray, n: int, *, seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """P(sum of s over a random half ≥ the observed sum over X): exact over every split when there are few."""
    observed = s[:n].sum()
    total = math.comb(len(s), n)
    if total <= permutations:
        from itertools import combinations

        sums = np.array([s[list(chosen)].sum() for chosen in combinations(range(len(s)), n)])
        return float((sums >= observed - 1e-12).mean())
    rng = np.random.default_rng(seed)
    halves = rng.random((permutations, len(s))).argsort(axis=1)[:, :n]
    return float((1 + (s[halves].sum(axis=1) >= observed - 1e-12).sum()) / (permutations + 1))


_TOKEN = re.compile(r"[a-z']+|[\u4e00-\u9fff]")


def shortcut_words(texts: Sequence[str], labels: Sequence[str], *, top: int = 10, min_count: int = 3) -> dict[str, list]:
    """Per class, the words (Chinese: characters) most over-represented in its texts: smoothed log-odds of the word
    in the class against the other classes, among words seen at least ``min_count`` times."""
    counts: dict[str, Counter] = {}
    for text, label in zip(texts, labels, strict=True):
        counts.setdefault(label, Counter()).update(set(_TOKEN.findall(text.lower())))
    totals = {label: sum(1 for other in labels if other == label) for label in counts}
    every = Counter()
    for found in counts.values():
        every.update(found)
    out = {}
    for label, found in counts.items():
        rest = sum(totals.values()) - totals[label]
        scored = []
        for word, inside in found.items():
            if every[word] < min_count:
                continue
            outside = every[word] - inside
            odds = math.log((inside + 0.5) / (totals[label] - inside + 0.5)) - math.log((outside + 0.5) / (rest - outside + 0.5))
            scored.append((word, odds, inside, outside))
        out[label] = sorted(scored, key=lambda row: -row[1])[:top]
    return out
