"""Generated PropBank-style semantic role labeling data with exact gold spans.

No SRL corpus can be installed offline, so LM Lab writes sentences whose roles it knows by
construction. Each sentence is built from phrases; every phrase carries its role for every
predicate of the sentence, so the gold spans are exact. Constructions: active and passive voice,
ditransitives ("gave the girl a book" / "gave a book to the girl"), intransitives, modal and
negation, time / place / manner / cause modifiers, noun phrases with nested prepositional
phrases ("the man with the red hat"), and sentences with two predicates (reported speech
"said that …", control "wanted to …", coordination "… and …").

Roles follow PropBank: ARG0 the agent, ARG1 the thing acted on, ARG2 the recipient (or the
source for "buy"), ARGM-TMP, ARGM-LOC, ARGM-MNR, ARGM-NEG, ARGM-MOD, ARGM-CAU, and V for the
predicate itself. Held-out sentences use (verb, construction) pairs that never occur in training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from core.data import srl_lexicon as words
from core.data.srl_lexicon import VERB_FORMS  # noqa: F401 - callers ask srl for the forms
from core.data.types import Split
from core.messages import N_

ROLES = ("ARG0", "ARG1", "ARG2", "ARGM-TMP", "ARGM-LOC", "ARGM-MNR", "ARGM-NEG", "ARGM-MOD", "ARGM-CAU")
ROLE_MEANINGS = {
    "ARG0": N_("who acts (agent)"),
    "ARG1": N_("what is acted on (theme)"),
    "ARG2": N_("to whom (the recipient)"),
    "ARGM-TMP": N_("when"),
    "ARGM-LOC": N_("where"),
    "ARGM-MNR": N_("how"),
    "ARGM-NEG": N_("negation"),
    "ARGM-MOD": N_("modal"),
    "ARGM-CAU": N_("why"),
    "V": N_("the predicate"),
}
LABELS = ("O", "B-V", "I-V", *(f"{prefix}-{role}" for role in ROLES for prefix in ("B", "I")))


@dataclass(frozen=True)
class Frame:
    predicate: int  # index of the predicate word
    tags: tuple[str, ...]  # one BIO tag per word
    verb: str  # lemma
    construction: str

    def spans(self) -> list[tuple[str, int, int]]:
        """(role, first word, last word) for every span, the predicate included."""
        found, start, role = [], None, None
        for index, tag in enumerate((*self.tags, "O")):
            if start is not None and not tag.startswith("I-"):
                found.append((role, start, index - 1))
                start = None
            if tag.startswith("B-"):
                start, role = index, tag[2:]
        return found


@dataclass(frozen=True)
class SrlSentence:
    words: tuple[str, ...]
    frames: tuple[Frame, ...]
    # for held-out sentences, what makes them new: see HELD_OUT_KINDS
    kind: str = ""

    @property
    def text(self) -> str:
        return " ".join(self.words).replace(" .", ".").replace(" ,", ",")


class _Builder:
    """Collects phrases; each phrase carries its role per predicate (frame number)."""

    def __init__(self):
        self.phrases: list[tuple[list[str], dict[int, str]]] = []
        self.predicates: list[tuple[int, str, str]] = []  # (frame, lemma, construction)

    def add(self, text: str, roles: dict[int, str] | None = None) -> None:
        if text:
            self.phrases.append((text.split(), dict(roles or {})))

    def verb(self, frame: int, word: str, lemma: str, construction: str, roles: dict[int, str] | None = None):
        self.predicates.append((frame, lemma, construction))
        self.add(word, {**(roles or {}), frame: "V"})

    def build(self) -> SrlSentence:
        words: list[str] = []
        owners: list[dict[int, str]] = []
        starts: list[bool] = []
        for phrase, roles in self.phrases:
            for position, word in enumerate(phrase):
                words.append(word)
                owners.append(roles)
                starts.append(position == 0)
        words[0] = words[0][0].upper() + words[0][1:]
        frames = []
        for frame, lemma, construction in self.predicates:
            tags, previous = [], None
            for index, roles in enumerate(owners):
                role = roles.get(frame)
                # phrases of one role that follow each other form one span (a clause as ARG1)
                same_span = role is not None and role == previous and (not starts[index] or role != "V")
                tags.append("O" if role is None else ("I-" if same_span else "B-") + role)
                previous = role
            predicate = next(i for i, tag in enumerate(tags) if tag == "B-V")
            frames.append(Frame(predicate=predicate, tags=tuple(tags), verb=lemma, construction=construction))
        return SrlSentence(words=tuple(words), frames=tuple(frames))


def _person(rng: random.Random) -> str:
    person = rng.choice(words.PEOPLE)
    if person[0].islower() and rng.random() < 0.2:
        person = f"{person} {rng.choice(words.PEOPLE_PP)}"
    return person


def _thing(rng: random.Random, food: bool = False) -> str:
    if food:
        return rng.choice(words.FOOD)
    thing = rng.choice(words.THINGS)
    if rng.random() < 0.2:
        thing = f"{thing} {rng.choice(words.THINGS_PP)}"
    return thing


def _clause(b: _Builder, rng: random.Random, frame: int, lemma: str, outer: dict[int, str], *,
            passive: bool, subject: str | None = None, infinitive: bool = False, timed: bool = True) -> None:  # fmt: skip
    """One predicate with its arguments; ``outer`` are the roles the whole clause has for other frames."""
    base, _, _, kind = words.VERBS[lemma]
    construction = f"{kind}-{'passive' if passive else 'active'}" + ("-infinitive" if infinitive else "")

    def role(name: str) -> dict[int, str]:
        return {**outer, frame: name}

    tail_modifiers = []
    if not infinitive and rng.random() < 0.45:
        tail_modifiers.append(("ARGM-LOC", rng.choice(words.PLACES)))
    if not infinitive and timed and rng.random() < 0.5:
        tail_modifiers.append(("ARGM-TMP", rng.choice(words.TIMES)))
    if not infinitive and rng.random() < 0.12:
        tail_modifiers.append(("ARGM-CAU", rng.choice(words.CAUSES)))
    rng.shuffle(tail_modifiers)
    manner_before = rng.random() < 0.15
    manner_after = not manner_before and rng.random() < 0.15

    if infinitive:
        b.add("to", outer)
        verb_word = base
    else:
        verb_word = _subject_and_auxiliaries(b, rng, lemma, outer, role, passive, subject)
    if manner_before:
        b.add(rng.choice(words.MANNER_ADVERBS), role("ARGM-MNR"))
    b.verb(frame, verb_word, lemma, construction, outer)

    _objects(b, rng, kind, passive, role)
    if manner_after:
        b.add(rng.choice(words.MANNER_ADVERBS + words.MANNER_PHRASES), role("ARGM-MNR"))
    for name, text in tail_modifiers:
        b.add(text, role(name))


def _subject_and_auxiliaries(b: _Builder, rng: random.Random, lemma: str, outer: dict[int, str],
                             role: Callable[[str], dict[int, str]], passive: bool, subject: str | None) -> str:  # fmt: skip
    """The subject, a modal, a negation and the auxiliary of a finite clause; returns the verb's form."""
    base, past, participle, kind = words.VERBS[lemma]
    if passive:
        b.add(subject or _thing(rng, kind == "food"), role("ARG1"))
    elif kind == "intrans1":
        b.add(subject or rng.choice([_person(rng), _thing(rng)]), role("ARG1"))
    else:
        b.add(subject or _person(rng), role("ARG0"))
    modal = rng.choice(words.MODALS) if rng.random() < 0.2 else None
    negated = rng.random() < 0.2
    if modal:
        b.add(modal, role("ARGM-MOD"))
    if passive:
        if negated and not modal:
            b.add("was", outer)
            b.add(rng.choice(["not", "never"]), role("ARGM-NEG"))
        else:
            if negated:
                b.add("not", role("ARGM-NEG"))
            b.add("be" if modal else "was", outer)
        return participle
    if modal:
        if negated:
            b.add("not", role("ARGM-NEG"))
        return base
    if negated:
        b.add("did", outer)
        b.add("not", role("ARGM-NEG"))
        return base
    return past


def _objects(b: _Builder, rng: random.Random, kind: str, passive: bool, role: Callable[[str], dict[int, str]]) -> None:
    """What the verb takes after it: the object, the recipient, a passive's agent."""
    if kind in ("trans", "food") and not passive:
        b.add(_thing(rng, kind == "food"), role("ARG1"))
    elif kind == "ditrans":
        recipient = _person(rng)
        if passive:
            b.add(f"to {recipient}", role("ARG2"))
        elif rng.random() < 0.5:
            b.add(recipient, role("ARG2"))
            b.add(_thing(rng), role("ARG1"))
        else:
            b.add(_thing(rng), role("ARG1"))
            b.add(f"to {recipient}", role("ARG2"))
    if passive and rng.random() < 0.7:
        b.add(f"by {_person(rng)}", role("ARG0"))


def construct(rng: random.Random, verb: str, construction: str, *, fronted_time: bool = False) -> SrlSentence:
    """A sentence whose first predicate is ``verb`` in ``construction`` (see ``constructions()``).

    ``fronted_time`` puts a time phrase first ("Yesterday, the teacher …"): never in training data,
    so the held-out set can test a word order the model has not seen.
    """
    b = _Builder()
    if fronted_time and construction in ("active", "passive"):
        b.add(rng.choice(words.TIMES), {0: "ARGM-TMP"})
        b.add(",")
        _clause(b, rng, 0, verb, {}, passive=construction == "passive", timed=False)
    elif construction == "passive":
        _clause(b, rng, 0, verb, {}, passive=True)
    elif construction == "active":
        _clause(b, rng, 0, verb, {}, passive=False)
    elif construction == "clausal":  # [ARG0 X] said [ARG1 that <clause>]
        b.add(_person(rng), {0: "ARG0"})
        b.verb(0, words.VERBS[verb][1], verb, "clausal")
        b.add("that", {0: "ARG1"})
        inner = rng.choice(words.INFINITIVE_VERBS)
        _clause(b, rng, 1, inner, {0: "ARG1"}, passive=rng.random() < 0.3)
    elif construction == "control":  # [ARG0 X] wanted [ARG1 to <verb> …]; X is also the inner ARG0
        subject = _person(rng)
        b.add(subject, {0: "ARG0", 1: "ARG0"})
        b.verb(0, words.VERBS[verb][1], verb, "control")
        _clause(b, rng, 1, rng.choice(words.INFINITIVE_VERBS), {0: "ARG1"}, passive=False, infinitive=True)
    else:  # coordination: [ARG0 X] V1 … and V2 …, the subject shared
        subject = _person(rng)
        second = rng.choice([v for v in words.INFINITIVE_VERBS if v != verb])
        b.add(subject, {0: "ARG0", 1: "ARG0"})
        b.verb(0, words.VERBS[verb][1], verb, "coordination")
        kind = words.VERBS[verb][3]
        b.add(_thing(rng, kind == "food"), {0: "ARG1"})
        b.add("and")
        b.verb(1, words.VERBS[second][1], second, "coordination")
        b.add(_thing(rng, words.VERBS[second][3] == "food"), {1: "ARG1"})
        if rng.random() < 0.5:
            b.add(rng.choice(words.PLACES), {1: "ARGM-LOC"})
    b.add(".")
    return b.build()


def constructions() -> list[tuple[str, str]]:
    """Every (verb, construction) pair the generator makes."""
    pairs = []
    for verb, (_, _, _, kind) in words.VERBS.items():
        if kind in ("trans", "food", "ditrans"):
            pairs += [(verb, "active"), (verb, "passive"), (verb, "coordination")]
        elif kind in ("intrans0", "intrans1"):
            pairs.append((verb, "active"))
        else:
            pairs.append((verb, kind))
    return pairs


# Verbs that never occur in training, in any role of any sentence: can the model label a new verb's frame?
NEW_VERBS = ("repair", "lend", "arrive")
HELD_OUT_KINDS = {
    "unseen combination": N_("a verb in a construction it never had in training (e.g. only active, now passive)"),
    "unseen verb": N_("a verb that never occurs in training"),
    "fronted time phrase": N_("a time phrase before the subject, a word order never seen in training"),
}


def held_out_constructions(seed: int = 3) -> frozenset[tuple[str, str]]:
    """Passive, active and coordination uses of a few verbs kept for the test set only."""
    rng = random.Random(seed)
    verbs = sorted(
        v for v in words.BY_TYPE["trans"] + words.BY_TYPE["food"] + words.BY_TYPE["ditrans"] if v not in NEW_VERBS
    )
    rng.shuffle(verbs)
    held = {(verb, "passive") for verb in verbs[:4]}
    held |= {(verb, "active") for verb in verbs[4:7]}
    held |= {(verb, "coordination") for verb in verbs[7:9]}
    return frozenset(held)


@dataclass(frozen=True)
class SrlCorpus(Split[SrlSentence]):
    dataset: str = N_("LM Lab generated PropBank-style SRL")

    def describe(self) -> dict:
        return {
            **super().describe(),
            "train_frames": sum(len(s.frames) for s in self.train),
            "test_frames": sum(len(s.frames) for s in self.test),
            "held_out": "sentences with a (verb, construction) pair, a verb or a word order never seen in training",
            "test_kinds": {kind: sum(s.kind == kind for s in self.test) for kind in HELD_OUT_KINDS},
        }


def corpus(train_size: int = 1500, test_size: int = 200, seed: int = 9) -> SrlCorpus:
    """Training sentences, and held-out sentences of three kinds (``HELD_OUT_KINDS``), a third each."""
    held = held_out_constructions()
    pairs = constructions()
    new_verb_pairs = [pair for pair in pairs if pair[0] in NEW_VERBS]
    train_pairs = [pair for pair in pairs if pair not in held and pair[0] not in NEW_VERBS]
    single = [pair for pair in train_pairs if pair[1] in ("active", "passive")]
    rng = random.Random(seed)
    seen: set[str] = set()

    def kind_of(sentence: SrlSentence, fronted: bool) -> str:
        if any(frame.verb in NEW_VERBS for frame in sentence.frames):
            return "unseen verb"
        if fronted:
            return "fronted time phrase"
        if any((frame.verb, _construction_key(frame)) in held for frame in sentence.frames):
            return "unseen combination"
        return ""

    def draw(choices: list[tuple[str, str]], n: int, wanted: str, fronted: bool = False) -> list[SrlSentence]:
        found: list[SrlSentence] = []
        attempts = 0
        while len(found) < n and attempts < 30 * n:
            attempts += 1
            sentence = construct(rng, *rng.choice(choices), fronted_time=fronted)
            kind = kind_of(sentence, fronted)
            if sentence.text in seen or kind != wanted:
                continue
            seen.add(sentence.text)
            found.append(dataclasses.replace(sentence, kind=kind))
        return found

    third = test_size // 3
    test = draw(sorted(held), test_size - 2 * third, "unseen combination")
    test += draw(new_verb_pairs, third, "unseen verb")
    test += draw(single, third, "fronted time phrase", fronted=True)
    train = draw(train_pairs, train_size, "")
    fingerprint = hashlib.sha256("\n".join(s.text for s in test).encode("utf-8")).hexdigest()[:16]
    return SrlCorpus(train=tuple(train), test=tuple(test), seed=seed, fingerprint=fingerprint)


def _construction_key(frame: Frame) -> str:
    if frame.construction in ("clausal", "control", "coordination"):
        return frame.construction
    return "passive" if "-passive" in frame.construction else "active"
