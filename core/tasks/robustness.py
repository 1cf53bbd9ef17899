"""Robustness (鲁棒性), LM Lab's addition beside the article's third challenge (安全性, safety), measured: how few typing mistakes turn a classifier's answer?

A greedy **character-edit attack**, guided by occlusion (the same word scores the Sentiment page explains with):
every word of the text is removed once, in one batch; the words whose removal most lowers the probability of the
model's answer are edited first, one per step, and the text is classified again after each edit, until the answer
changes or ``MAX_EDITS`` edits are spent. An edit is a typing mistake a reader usually sees through, and never a
real word (checked against MiniLM's WordPiece vocabulary and jieba's dictionary, so the → thee, form → from and
故事 → 事故 are refused): two inner letters of an English word swapped, else one of its inner letters doubled (good →
goood), else, for a word of two letters, one of them doubled; two neighbouring characters of a Chinese word swapped
(jieba's words; a swap never moves a negation character 不没无非未别莫勿否, so 不好 and 非常 are left alone).
One-letter and one-character words are never touched, and a word with no such mistake costs no edit.

The attack runs once per model version at the caps (``MAX_TEXTS`` texts, ``MAX_EDITS`` edits each) and keeps every
step, so a smaller setting is read off it: the greedy attack with k edits is the first k steps of the attack with
more. Reported (``Attack.summary``): clean accuracy, accuracy under attack and the share of correctly answered texts
the attack turns, each with a 95 % Wilson interval, the mean edits over turned texts, and every turned text.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.data.text import HAN_RANGES
from core.errors import InputError
from core.messages import Message
from core.stats import Estimate, bootstrap_mean, wilson

MAX_TEXTS = 50
MAX_EDITS = 5
MAX_WORDS = 60  # a text is cut to its first 60 words: one batch of variants per text
_PIECE = re.compile(rf"[{HAN_RANGES}]+|[A-Za-z][A-Za-z'-]*")
_HAN = re.compile(rf"[{HAN_RANGES}]+")
NEGATIONS = frozenset("不没无非未别莫勿否")  # a swap never moves one of these: it could change the meaning


@cache
def _known_words() -> tuple[frozenset, dict]:
    """Whole English words of MiniLM's WordPiece vocabulary (bert-base-uncased's) and jieba's Chinese dictionary."""
    from core import catalog
    from core.loading import load_tokenizer
    from core.tasks.segment import jieba_words

    jieba_words("预热")  # loads jieba's dictionary once
    import jieba

    english = frozenset(w for w in load_tokenizer(catalog.MINILM).get_vocab() if w.isalpha())
    return english, jieba.dt.FREQ


def _is_word(candidate: str) -> bool:
    """A real word: in jieba's dictionary (Chinese), or in MiniLM's vocabulary — for an English piece with an
    apostrophe or a hyphen, every part of it (there's → three's is refused: three and s are both words)."""
    english, chinese = _known_words()
    if _HAN.fullmatch(candidate):
        return bool(chinese.get(candidate))
    parts = [part for part in re.split(r"['-]", candidate.lower()) if part]
    return candidate.lower() in english or bool(parts) and all(part in english for part in parts)


def _swapped(word: str, at: int) -> str:
    return word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :]


def _candidates(word: str) -> list[str]:
    """Typing mistakes for ``word``, the likeliest first."""
    by_middle = sorted(range(len(word)), key=lambda i: abs(i - len(word) // 2))
    if _HAN.fullmatch(word):  # two neighbouring characters swapped, never moving a negation
        return [_swapped(word, i) for i in by_middle
                if i >= 1 and word[i - 1] != word[i] and not NEGATIONS.intersection(word[i - 1 : i + 1])]  # fmt: skip
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(letters) < 2:
        return []  # a one-letter word is never touched
    first, last = letters[0], letters[-1]
    swaps = [_swapped(word, i) for i in by_middle if first < i - 1 and i < last  # two inner letters swapped
             and word[i - 1] != word[i] and word[i - 1].isalpha() and word[i].isalpha()]  # fmt: skip
    doubled = [word[: i + 1] + word[i] + word[i + 1 :] for i in by_middle if first < i < last and word[i].isalpha()]
    ends = [word[: i + 1] + word[i] + word[i + 1 :] for i in (last, first)]  # a two-letter word: an end doubled
    return swaps + doubled + ends


def edit_word(word: str) -> str:
    """``word`` with one typing mistake that is not itself a word (the → thee, form → from and 故事 → 事故 are
    refused), or ``word`` unchanged when it has none."""
    for candidate in _candidates(word):
        if candidate != word and not _is_word(candidate):
            return candidate
    return word


def pieces_of(text: str) -> tuple[list[str], list[int]]:
    """``text`` cut to its first ``MAX_WORDS`` words, as pieces (words and what lies between them) and the indices
    of the word pieces. Chinese runs are split into jieba's words."""
    from core.tasks.segment import jieba_words

    scanned = text[: 40 * MAX_WORDS]  # no word of 40 characters is needed to reach the cap
    pieces, words, last = [], [], 0
    for match in _PIECE.finditer(scanned):
        if match.end() == len(scanned) < len(text):  # a word the scan cut in half: the text ends before it
            break
        found = jieba_words(match.group()) if _HAN.fullmatch(match.group()) else [match.group()]
        pieces.append(text[last : match.start()])
        for word in found[: MAX_WORDS - len(words)]:
            words.append(len(pieces))
            pieces.append(word)
            pieces.append("")
        pieces.pop()
        last = match.end()
        if len(words) >= MAX_WORDS:
            return pieces, words
    pieces.append(scanned[last:] if len(scanned) == len(text) else "")
    return pieces, words


def held_out_texts(dataset: str) -> tuple[list[str], list[str]]:
    """``MAX_TEXTS`` held-out texts of ``dataset`` and their labels in a fixed shuffled order (seed 0): a smaller
    setting attacks a prefix."""
    from core.tasks.base import dataset_split

    found = dataset_split(dataset)
    if found is None:
        raise InputError(Message("LM Lab holds no held-out texts of the dataset {name}.", name=dataset))
    split, _labels = found
    examples = list(split.test)
    order = np.random.default_rng(0).permutation(len(examples))[:MAX_TEXTS]
    return [examples[i].text for i in order], [examples[i].label for i in order]


def edited_words(before: str, after: str) -> list[tuple[str, str]]:
    """What the attack changed, as (before, after) pairs in reading order, one pair per edit: each changed English
    word whole (wonderful → wondreful) and each Chinese swap as the two characters it swapped (电影 → 影电). An edit
    keeps the text's words where they were (letters swapped or doubled in a word; two characters of a Chinese run
    swapped), so the words are compared one by one; read off the two texts, it holds for every stored run."""
    was, now = _PIECE.findall(before), _PIECE.findall(after)
    if len(was) != len(now):  # not two texts of one attack: the words that differ, read off a diff
        return _diffed(before, after)
    pairs = []
    for old, new in zip(was, now, strict=True):
        if old == new:
            continue
        if _HAN.fullmatch(old) and len(old) == len(new):  # each swap changes two neighbouring characters
            changed = [i for i in range(len(old)) if old[i] != new[i]]  # in twos: i, i + 1 for each swap
            pairs += [(old[i : i + 2], new[i : i + 2]) for i in changed[::2]]
        else:
            pairs.append((old, new))
    return pairs


def _diffed(before: str, after: str) -> list[tuple[str, str]]:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [(before[i1:i2], after[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


@dataclass(frozen=True)
class Attacked:
    text: str  # as the model read it (cut to MAX_WORDS words)
    label: str  # the model's answer (the correct one)
    steps: tuple[tuple[str, str], ...]  # (text, the model's answer) after each edit, up to the first turned answer

    def after(self, edits: int) -> tuple[str, str, int]:
        """The text, the model's answer and the edits made when at most ``edits`` edits are allowed."""
        taken = self.steps[:edits]
        return (taken[-1][0], taken[-1][1], len(taken)) if taken else (self.text, self.label, 0)


def attack_one(classify: Callable[[list[str]], list], cut: tuple[list[str], list[int]], label: str) -> Attacked:
    """The greedy attack on one text, given as ``pieces_of`` cut it, that the model labels ``label``;
    ``classify(texts)`` returns results with ``.label`` and ``.scores``."""
    pieces, words = list(cut[0]), cut[1]
    text = "".join(pieces)
    if not words:
        return Attacked(text, label, ())
    variants = ["".join(pieces[:i] + pieces[i + 1 :]).strip() or "." for i in words]  # each word removed once
    kept = [r.scores.get(label, 0.0) for r in classify(variants)]  # the lower, the more the word mattered
    steps = []
    for rank in np.argsort(kept, kind="stable"):
        index = words[rank]
        new = edit_word(pieces[index])
        if new == pieces[index]:  # nothing safe to mistype here (a lone character, a negation): no edit spent
            continue
        pieces[index] = new
        answer = classify(["".join(pieces)])[0].label
        steps.append(("".join(pieces), answer))
        if answer != label or len(steps) == MAX_EDITS:
            break
    return Attacked(text, label, tuple(steps))


@dataclass(frozen=True)
class Summary:
    clean: Estimate  # accuracy before the attack
    attacked: Estimate  # accuracy with at most ``edits`` edits per text
    turned: Estimate | None  # share of the correctly answered texts whose answer turned
    mean_edits: Estimate | None  # over the turned texts, with a 95 % bootstrap CI
    examples: list[tuple[str, str, str, str, int]]  # (before, after, answer before, answer after, edits)


@dataclass(frozen=True)
class Attack:
    results: list[Attacked | None]  # per held-out text in the fixed order; None where the model was already wrong
    runtime: str = ""  # what computed the answers (the classifier's serving runtime), for the page's code
    max_tokens: int = 512  # the classifier's reading limit

    def summary(self, texts: int, edits: int) -> Summary:
        """What the attack on the first ``texts`` texts with ``edits`` edits each found (read off the stored run)."""
        if not 1 <= edits <= MAX_EDITS or not 1 <= texts <= len(self.results):
            raise InputError(Message("Attack 1 to {texts} texts with 1 to {edits} edits each.",
                                     texts=len(self.results), edits=MAX_EDITS))  # fmt: skip
        chosen = [r for r in self.results[:texts] if r is not None]
        outcomes = [r.after(edits) for r in chosen]
        turned = [(r, o) for r, o in zip(chosen, outcomes, strict=True) if o[1] != r.label]
        examples = [(r.text, o[0], r.label, o[1], o[2]) for r, o in turned]
        return Summary(wilson(len(chosen), texts), wilson(len(chosen) - len(turned), texts),
                       wilson(len(turned), len(chosen)) if chosen else None,
                       bootstrap_mean([o[2] for _, o in turned]) if turned else None, examples)  # fmt: skip

    def by_edits(self, texts: int) -> list[Summary]:
        """The summary for 1, 2, … MAX_EDITS edits per text (read off the same run: how accuracy falls)."""
        return [self.summary(texts, edits) for edits in range(1, MAX_EDITS + 1)]


def run(classify: Callable[[list[str]], list], texts: Sequence[str], labels: Sequence[str], *,
        progress: Callable[[int, int], None] | None = None) -> Attack:  # fmt: skip
    """The attack at the caps on every text the model answers correctly (texts cut to ``MAX_WORDS`` words)."""
    if not 1 <= len(texts) <= MAX_TEXTS:
        raise InputError(Message("Attack 1 to {texts} texts with 1 to {edits} edits each.", texts=MAX_TEXTS,
                                 edits=MAX_EDITS))  # fmt: skip
    cut = [pieces_of(text) for text in texts]
    first = classify(["".join(pieces) or "." for pieces, _words in cut])
    results = []
    for done, (pieces, truth, answer) in enumerate(zip(cut, labels, first, strict=True)):
        results.append(attack_one(classify, pieces, truth) if answer.label == truth else None)
        if progress:
            progress(done + 1, len(cut))
    return Attack(results)
