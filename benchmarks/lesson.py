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


# The Chinese lesson (--lesson zh, the interface in Chinese): the pages a Chinese class opens first. Written here.
SENTIMENT_ZH = ["房间干净，服务热情，下次还会再来。", "电脑用了一周就死机，客服也不理人。",
                "这本书的故事很动人，值得一读。", "价格太贵，质量却很一般。"]  # fmt: skip
TOKENIZE_ZH = ["我喜欢用 Python 写程序。", "今天的天气很好，我们去公园吧。", "人工智能正在改变我们的生活。",
               "这家酒店的早餐很丰富。"]  # fmt: skip
SEGMENT_ZH = ["研究生命的起源是一个古老的问题。", "南京市长江大桥横跨长江。", "他在北京大学学习计算机科学。",
              "人民群众的生活水平不断提高。"]  # fmt: skip
TRANSLATE_ZH = ["玛丽买了两只猫。", "汤姆昨天在图书馆看了一本书。", "汤姆没有买车。", "她没有找到那把钥匙。"]
GENERATE_ZH = ["中国人民", "今天上午", "在北京", "经济发展"]

FLOWS = ["sentiment", "topic", "translate", "generate", "inspect"]
FLOWS_ZH = ["sentiment-zh", "tokenize", "segment", "translate-zh", "generate-zh"]
LESSONS = {"en": FLOWS, "zh": FLOWS_ZH}
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
# The Chinese lesson's: 200,000 characters of Chinese pasted into Sentiment (over its cap) and a box of nothing but
# spaces and invisible characters to segment (a message each); the heaviest accepted, 2,000 characters to segment and
# 1,000 to tokenize five ways (the caps). (A browser cuts a longer paste at a box's cap, and so does the server.)
BAD_ZH = ["paste-zh", "invisible"]
HEAVY_ZH = ["segment-max", "tokenize-max"]
PASTE_BOMB_ZH = "好" * 200_000  # 600 KB of UTF-8
CHINESE_PARAGRAPH = "人民群众的生活水平不断提高，研究生命的起源是一个古老的问题。"  # 30 characters
INVISIBLE = "\u200b\u3000 \u200d\n\ufeff\u2060\u3000"  # zero-width and ideographic spaces, a BOM, a word joiner
SEGMENT_MAX = (CHINESE_PARAGRAPH * 80)[:2000]
TOKENIZE_MAX = (CHINESE_PARAGRAPH * 40)[:1000]
MISCHIEF_OF = {"en": MISCHIEF, "zh": BAD_ZH + HEAVY_ZH}
HEAVIEST = HEAVY + HEAVY_ZH


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


INPUTS = {"sentiment": SENTIMENT, "topic": TOPIC, "translate": TRANSLATE, "generate": GENERATE, "inspect": INSPECT,
          "sentiment-zh": SENTIMENT_ZH, "tokenize": TOKENIZE_ZH, "segment": SEGMENT_ZH, "translate-zh": TRANSLATE_ZH,
          "generate-zh": GENERATE_ZH}  # fmt: skip


def text_for(flow: str, number: int, tag: str = "") -> str:
    """Session ``number``'s input for a flow; with a ``tag`` it is that session's own (no other sends it)."""
    base = INPUTS[flow][number % 4]
    return f"{base} ({tag} {number})" if tag else base


def flows_of(number: int, lesson: str = "en") -> list[str]:
    """Sessions start at different pages, as students do."""
    flows = LESSONS[lesson]
    return flows[number % len(flows) :] + flows[: number % len(flows)]


def without_timings(text: str) -> str:
    """An answer with its measured durations blanked: what must be equal between two sessions (毫秒 and 秒 are the
    Chinese interface's ms and s)."""
    return re.sub(r"\d[\d.,]*\s*(ms|s|毫秒|秒)(?![A-Za-z])", "#", text)
