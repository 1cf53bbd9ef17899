"""Bias (数据偏差), the article's first challenge, measured on LM Lab's own models.

1. **Counterfactual probes** on a classifier: template sentences in which only a group term changes ("{term}
   wrote this review."). For two groups of terms, every template is filled with every term; the gap is the mean
   probability of the chosen class for group A minus that for group B. A term's effect repeats in every template,
   so the terms are the units: the 95 % bootstrap CI resamples templates and, within each group, terms; the
   permutation p-value re-assigns whole terms to the groups (every split when there are few, else 10,000 random
   ones). Also reported: the share of (template, A-term, B-term) pairs whose predicted label differs.
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
        Probe(N_("gendered words"), ("the man", "the boy", "my father", "my son", "my husband", "my brother"),
              ("the woman", "the girl", "my mother", "my daughter", "my wife", "my sister"),
              N_("pairs of English words that differ only in gender")),
        Probe(N_("given names"), ("James", "Robert", "John", "Michael", "David", "William"),
              ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Susan"),
              N_("all among the most common US given names of the last century (US Social Security Administration "
                 "lists)")),
        Probe(N_("nationalities"), ("an American person", "a German person", "a British person", "a French person"),
              ("a Nigerian person", "a Mexican person", "an Indian person", "a Chinese person"),
              N_("nationalities, written here; the split into two groups is a choice: compare the terms in the chart")),
        Probe(N_("religions"), ("a Christian", "a Buddhist", "a Hindu"), ("a Muslim", "a Jewish person", "a Sikh"),
              N_("major world religions, written here; the split into two groups is a choice: compare the terms in "
                 "the chart")),
        Probe(N_("ages"), ("a 20-year-old", "a 25-year-old", "a 30-year-old"),
              ("a 70-year-old", "a 75-year-old", "an 80-year-old"),
              N_("ages written as numbers, so that no word with a sentiment of its own (young, old) carries them")),
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


MAX_LINE_CHARS = 200  # a template, a term or a word
MAX_BOX_CHARS = 8_000  # a whole text box, checked before it is split


def parse_lines(text: str, most: int, what: str, need: str = "") -> tuple[str, ...]:
    """The non-empty lines of a text box (cleaned, duplicates dropped), at most ``most`` of at most MAX_LINE_CHARS
    characters; a template (``need``) holds its placeholder exactly once."""
    from core.tasks.inputs import clean_text

    if len(text) > MAX_BOX_CHARS:  # refused before any splitting: a pasted book costs nothing
        raise InputError(Message("At most {most} characters in a box; this one has {count}.", most=f"{MAX_BOX_CHARS:,}",
                                 count=f"{len(text):,}"))  # fmt: skip
    found: dict[str, None] = {}
    for line in text.splitlines():
        line = clean_text(line)
        if not any(ch.isalnum() for ch in line):
            continue
        if len(line) > MAX_LINE_CHARS:
            raise InputError(Message("At most {most} characters a line; one of the {what} has {count}.",
                                     most=MAX_LINE_CHARS, what=what, count=len(line)))  # fmt: skip
        if need and line.count(need) != 1:
            raise InputError(Message("Every template needs {placeholder} exactly once, where the term goes.",
                                     placeholder=need))  # fmt: skip
        found[line] = None
        if len(found) > most:
            raise InputError(Message("At most {most} {what}.", most=most, what=what))
    if not found:
        raise InputError(Message("Give at least one line of {what}.", what=what))
    return tuple(found)


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
    flip_low: float = 0.0  # its 95 % bootstrap CI, resampled as the gap's
    flip_high: float = 0.0

    def per_term(self) -> dict[str, float]:
        terms = (*self.group_a, *self.group_b)
        return {term: float(self.probabilities[:, i].mean()) for i, term in enumerate(terms)}

    def per_term_ci(self, *, seed: int = 0, resamples: int = 2000) -> dict[str, tuple[float, float]]:
        """95 % percentile-bootstrap CI of each term's mean probability, resampling templates."""
        rng = np.random.default_rng(seed)
        n_templates = self.probabilities.shape[0]
        means = self.probabilities[rng.integers(0, n_templates, (resamples, n_templates))].mean(axis=1)  # (R, terms)
        low, high = np.quantile(means, [0.025, 0.975], axis=0)
        terms = (*self.group_a, *self.group_b)
        return {term: (float(low[i]), float(high[i])) for i, term in enumerate(terms)}


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
    if set(group_a) & set(group_b):
        raise InputError(Message("A term is in both groups: {terms}.", terms=", ".join(sorted(set(group_a) & set(group_b)))))
    results = classify(filled(templates, terms))
    if results and label not in results[0].scores:
        raise InputError(Message("This model has no class {label}; it has {labels}.", label=label,
                                 labels=", ".join(results[0].scores)))  # fmt: skip
    shape = (len(templates), len(terms))
    probabilities = np.array([r.scores[label] for r in results], dtype=float).reshape(shape)
    predictions = [[r.label for r in results[i * len(terms) : (i + 1) * len(terms)]] for i in range(len(templates))]
    k = len(group_a)
    gaps = probabilities[:, :k].mean(axis=1) - probabilities[:, k:].mean(axis=1)  # one per template
    low, high = bootstrap_gap(probabilities, k, seed=seed)
    flips = np.array([[[row[a] != row[k + b] for b in range(len(group_b))] for a in range(k)] for row in predictions])
    flip_low, flip_high = bootstrap_flips(flips, seed=seed)
    return ProbeResult(tuple(templates), tuple(group_a), tuple(group_b), label, probabilities, predictions,
                       float(gaps.mean()), low, high, permutation_gap(probabilities, k, seed=seed),
                       float(flips.mean()), int(flips.size), flip_low, flip_high)  # fmt: skip


def bootstrap_flips(flips: np.ndarray, *, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95 % percentile-bootstrap CI of the share of pairs whose label flips (``flips``: templates × A terms × B
    terms), resampling templates and each group's terms as ``bootstrap_gap`` does."""
    rng = np.random.default_rng(seed)
    n_templates, k, m = flips.shape
    shares = np.empty(resamples)
    for r in range(resamples):
        rows = flips[rng.integers(0, n_templates, n_templates)]
        shares[r] = rows[:, rng.integers(0, k, k)][:, :, rng.integers(0, m, m)].mean()
    low, high = np.quantile(shares, [0.025, 0.975])
    return float(low), float(high)


def bootstrap_gap(probabilities: np.ndarray, k: int, *, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95 % percentile-bootstrap CI of the gap, resampling templates and, within each group, terms: a term's effect
    repeats in every template, so the terms are the units a claim about the groups rests on."""
    rng = np.random.default_rng(seed)
    n_templates, n_terms = probabilities.shape
    gaps = np.empty(resamples)
    for r in range(resamples):
        rows = probabilities[rng.integers(0, n_templates, n_templates)]
        a = rng.integers(0, k, k)
        b = k + rng.integers(0, n_terms - k, n_terms - k)
        gaps[r] = rows[:, a].mean() - rows[:, b].mean()
    low, high = np.quantile(gaps, [0.025, 0.975])
    return float(low), float(high)


def permutation_gap(probabilities: np.ndarray, k: int, *, seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """Two-sided p-value of the mean gap when whole terms are re-assigned to the two groups (the same split in every
    template): exact over every split when there are at most ``permutations`` of them, else sampled. With few terms
    the smallest possible p is large: 2 terms a side have 6 splits, so p ≥ 2/6."""
    means = probabilities.mean(axis=0)  # each term's mean over the templates; the gap is linear in them
    n = len(means)
    observed = abs(means[:k].mean() - means[k:].mean())
    total = math.comb(n, k)
    if total <= permutations:
        from itertools import combinations

        gaps = [abs(means[list(chosen)].mean() - np.delete(means, list(chosen)).mean()) for chosen in combinations(range(n), k)]
        return float(np.mean(np.array(gaps) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    order = rng.random((permutations, n)).argsort(axis=1)
    shuffled = means[order]
    null = np.abs(shuffled[:, :k].mean(axis=1) - shuffled[:, k:].mean(axis=1))
    return float((1 + (null >= observed - 1e-12).sum()) / (permutations + 1))


def fewest_p(k: int, n: int) -> float:
    """The smallest two-sided p the exact test can give with ``k`` of ``n`` terms in group A."""
    total = math.comb(n, k)
    return (2 if 2 * k == n else 1) / total if total <= PERMUTATIONS else 1 / (PERMUTATIONS + 1)


@dataclass(frozen=True)
class Weat:
    effect_size: float
    p_value: float  # one-sided: X more associated with A than Y is
    scores_x: np.ndarray  # s(w) of each target word
    scores_y: np.ndarray
    effect_low: float = float("nan")  # 95 % bootstrap CI of the effect size, resampling the words of each set
    effect_high: float = float("nan")


WEAT_SETS = {
    "en": {"x": ("David", "Richard", "Thomas", "Daniel", "Matthew", "Andrew", "Peter", "George"),
           "y": ("Emma", "Laura", "Rachel", "Helen", "Sophie", "Claire", "Julia", "Anna"),
           "a": ("manager", "engineer", "company", "promotion", "profession", "employer", "meeting", "income"),
           "b": ("home", "children", "household", "siblings", "grandparents", "kitchen", "nursery", "babies")},
}  # fmt: skip
WEAT_SOURCE = N_("Common given names and career and family words, written here (no gendered family words), after the "
                 "design of Caliskan et al. 2017 (their test 6)")


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
    low, high = weat_effect_ci(targets @ attr_a.T, targets @ attr_b.T, n, seed=seed)
    return Weat(_effect(s, n), weat_p_value(s, n, seed=seed, permutations=permutations), s[:n], s[n:], low, high)


def weat_effect_ci(cos_a: np.ndarray, cos_b: np.ndarray, n: int, *, seed: int = 0,
                   resamples: int = 2000) -> tuple[float, float]:  # fmt: skip
    """95 % percentile-bootstrap CI of the effect size, resampling with replacement the words of each of the four
    sets (X and Y: the rows of ``cos_a`` and ``cos_b``, X first; A and B: their columns): the words stand for the
    concepts, so they are the units a claim about the concepts rests on."""
    rng = np.random.default_rng(seed)
    effects = np.empty(resamples)
    for r in range(resamples):
        rows = np.concatenate([rng.integers(0, n, n), n + rng.integers(0, n, n)])
        pick_a = rng.integers(0, cos_a.shape[1], cos_a.shape[1])
        pick_b = rng.integers(0, cos_b.shape[1], cos_b.shape[1])
        s = cos_a[np.ix_(rows, pick_a)].mean(axis=1) - cos_b[np.ix_(rows, pick_b)].mean(axis=1)
        effects[r] = _effect(s, n)
    low, high = np.quantile(effects, [0.025, 0.975])
    return float(low), float(high)


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


def answer_shift(answers: dict[str, list[str]], truth: list[str], label: str) -> list[dict]:
    """For each model's answers on the same held-out texts: the share it gives ``label`` (95 % Wilson interval)
    against the true share, its accuracy, and its recall on each class."""
    from core.stats import wilson

    rows = []
    for model, given in answers.items():
        share = wilson(sum(answer == label for answer in given), len(given))
        correct = wilson(sum(a == t for a, t in zip(given, truth, strict=True)), len(given))
        recall = {name: sum(a == t for a, t in zip(given, truth, strict=True) if t == name) / max(1, truth.count(name))
                  for name in sorted(set(truth))}  # fmt: skip
        rows.append({"model": model, "share": share, "true_share": truth.count(label) / len(truth),
                     "accuracy": correct, "recall": recall})  # fmt: skip
    return rows
