"""What one lesson is, for the classroom load test: the inputs, the five flows, the bad inputs, the tally."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANSWER_TIMEOUT_S = 120

SENTIMENT = ["A wonderful, moving film with a brilliant cast.", "The plot is dull and the acting is awful.",
             "I loved every minute of this charming story.", "A boring, clumsy mess that wastes its actors."]  # fmt: skip
TOPIC = ["NASA launched a new rocket toward the moon last night.", "The church choir sang hymns at the service.",
         "The team won the championship after extra time.", "The parliament passed the new budget law."]  # fmt: skip
TRANSLATE = ["The teacher reads a book.", "My friend likes the small dog.", "The children are playing in the park.",
             "She wrote a letter yesterday."]  # fmt: skip
GENERATE = ["The government said", "Australian police", "The match in Sydney", "Firefighters were"]
INSPECT = ["The cat sat on the mat because it was warm.", "The bank raised interest rates again.",
           "She gave him the book she had finished.", "Rain fell on the quiet town all night."]  # fmt: skip


FLOWS = ["sentiment", "topic", "translate", "generate", "inspect"]
BAD = ["summary", "explain", "template", "paste"]
TEMPLATE_BOMB = "{label} {label:>100000000}"
EXPLAIN_BOMB = " ".join(["zq" * 40] * 12)  # 12 made-up words of 80 letters: 430 tokens
SUMMARY_BOMB = ("Go. " * 1250)[:5000]
PASTE_BOMB = "word " * 40_000  # 200 KB
# The heaviest inputs the app accepts (at its caps), sent by the same sessions: the others must not freeze.
HEAVY = ["explain-max", "summary-max"]
EXPLAIN_MAX = " ".join(["the film was long but the actors were good and the music was not bad at all"] * 3)[
    :330
]
SUMMARY_MAX = " ".join(f"Day {day} was calm." for day in range(150))  # 150 sentences, the cap
MISCHIEF = BAD + HEAVY


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    refused: int = 0
    bad_unclear: list[str] = field(default_factory=list)
    answers: list[tuple[str, str, str]] = field(default_factory=list)  # (flow, input text, answer)
    steps: list[float] = field(
        default_factory=list
    )  # every script run of the normal sessions (page opens too)
    heavy_done: int = 0  # heaviest accepted inputs that got their answer


INPUTS = {"sentiment": SENTIMENT, "topic": TOPIC, "translate": TRANSLATE, "generate": GENERATE, "inspect": INSPECT}


def text_for(flow: str, number: int, tag: str = "") -> str:
    """Session ``number``'s input for a flow; with a ``tag`` it is that session's own (no other sends it)."""
    base = INPUTS[flow][number % 4]
    return f"{base} ({tag} {number})" if tag else base


def flows_of(number: int) -> list[str]:
    """Sessions start at different pages, as students do."""
    return FLOWS[number % len(FLOWS) :] + FLOWS[: number % len(FLOWS)]


def without_timings(text: str) -> str:
    """An answer with its measured durations blanked: what must be equal between two sessions."""
    return re.sub(r"\d[\d.,]*\s*(ms|s)\b", "#", text)
