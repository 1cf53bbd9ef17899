"""The classroom flows over Streamlit's websocket protocol: the server sees what 20 browsers send.

Used by benchmarks/classroom.py --client protocol (the default). Each session is one websocket, as
one browser tab is; the students' browsers (their rendering) are not on the server's cores, as in a
classroom. The answer's time is from the request to the moment the answer's element reached the socket.
"""

from __future__ import annotations

import asyncio
import hashlib
from urllib.parse import quote

from lesson import (
    ANSWER_TIMEOUT_S,
    EXPLAIN_BOMB,
    EXPLAIN_MAX,
    HEAVIEST,
    INVISIBLE,
    MISCHIEF_OF,
    PASTE_BOMB,
    PASTE_BOMB_ZH,
    SEGMENT_MAX,
    SUMMARY_BOMB,
    SUMMARY_MAX,
    TEMPLATE_BOMB,  # fmt: skip
    TOKENIZE_MAX,
    Tally,
    flows_of,
    text_for,
    without_timings,
)
from streamlit_client import Session

ZERO_SHOT = ["Zero-shot (your labels)"]
ZH = "lang=zh"


async def _ask(session: Session, widgets: dict, answer: str, containing: str) -> tuple[float, str]:
    page = await session.rerun(widgets, timeout=ANSWER_TIMEOUT_S)
    seconds = page.answered(answer, containing)
    if seconds is None:
        problems = page.problems()
        raise RuntimeError(problems[0] if problems else f"no {containing!r} in {answer}")
    return seconds, without_timings("\n".join(page.texts(answer)))


async def flow(session: Session, name: str, text: str) -> tuple[float, str]:
    """One normal request: (seconds from the request to the answer, what must equal a lone session's answer)."""
    if name == "sentiment":
        await session.open("sentiment")
        seconds, answer = await _ask(session, {"sentiment-text": text, "sentiment-run": True}, "sentiment-answer",
                                     "Latency")  # fmt: skip
        what_if = [t for t in session.last.texts() if " points" in t]  # the what-if view, shared across sessions
        return seconds, answer + "\n" + "\n".join(what_if)
    if name == "topic":
        await session.open("topic")
        await session.rerun({"topic-mode": ZERO_SHOT})
        return await _ask(session, {"topic-text": text, "topic-zs-run": True}, "topic-answer", "Zero-shot:")
    if name == "translate":
        await session.open("translate")
        return await _ask(session, {"translate-text": text, "translate-run": True}, "translate-answer", "Latency")
    if name == "generate":
        await session.open("generate")
        return await _ask(session, {"generate-prompt": text, "generate-run": True}, "generate-answer", "tokens in")
    if name == "inspect":  # a link with the text in its address: the whole page is the answer
        page = await session.open("inspect_attention", "text=" + quote(text), ANSWER_TIMEOUT_S)
        if not page.has("iframe"):
            raise RuntimeError("no attention view on the page")
        charts = [e.proto.spec for _, e in sorted(page.elements.items()) if e.kind == "plotly_chart"]
        return page.seconds, hashlib.sha256("\n".join(charts).encode()).hexdigest()  # every map and statistic
    return await _flow_zh(session, name, text)


async def _flow_zh(session: Session, name: str, text: str) -> tuple[float, str]:
    """The Chinese lesson's flows, with the interface in Chinese (each page opened with ``lang=zh``)."""
    if name == "sentiment-zh":  # the page starts in the interface's language: the Chinese reviews' model
        await session.open("sentiment", ZH)
        return await _ask(session, {"sentiment-text": text, "sentiment-run": True}, "sentiment-answer", "延迟")
    if name == "tokenize":  # no button: the five ways redraw as the text changes
        await session.open("tokenization", ZH)
        return await _ask(session, {"tokenization-text": text}, "tokenization-answer", "jieba")
    if name == "segment":
        await session.open("segment", ZH)
        return await _ask(session, {"segment-text": text, "segment-run": True}, "segment-answer", "jieba")
    if name == "translate-zh":
        await session.open("translate", ZH + "&model=translate-zh-en")
        return await _ask(session, {"translate-text": text, "translate-run": True}, "translate-answer", "延迟")
    if name == "generate-zh":
        await session.open("generate", ZH)
        return await _ask(session, {"generate-prompt": text, "generate-run": True}, "generate-answer", "个词元")
    raise ValueError(name)


# The bad and heaviest inputs sent in one rerun of one page: (page, query, widgets, words the answer must hold).
ONE_STEP = {
    "summary": ("summarize", "", {"sum-text": SUMMARY_BOMB, "sum-run": True}, "summaries take at most"),
    "paste": ("sentiment", "", {"sentiment-text": PASTE_BOMB, "sentiment-run": True}, "the limit is"),
    "summary-max": ("summarize", "", {"sum-text": SUMMARY_MAX, "sum-run": True}, "Summary"),  # 150 sentences, the cap
    "paste-zh": ("sentiment", ZH, {"sentiment-text": PASTE_BOMB_ZH, "sentiment-run": True}, "上限是"),
    "invisible": ("segment", ZH, {"segment-text": INVISIBLE, "segment-run": True}, "请输入一些文本"),
    "tokenize-max": ("tokenization", ZH, {"tokenization-text": TOKENIZE_MAX}, "jieba"),  # accepted: the cap
    "segment-max": ("segment", ZH, {"segment-text": SEGMENT_MAX, "segment-run": True}, "jieba"),  # accepted: the cap
}
# The explanations: the text first, then the button (a bomb of 430 tokens; the heaviest accepted, 51 words).
EXPLAINED = {"explain": (EXPLAIN_BOMB, "Explanations take at most"),
             "explain-max": (EXPLAIN_MAX, "Integrated gradients sum the gradient")}  # fmt: skip


async def _bad(session: Session, name: str) -> bool:
    """One bad input (True when the server answered with a clear message in time) or one of the heaviest
    accepted ones (True when its answer came)."""
    if name in ONE_STEP:
        page_name, query, widgets, wanted = ONE_STEP[name]
        await session.open(page_name, query)
        page = await session.rerun(widgets, ANSWER_TIMEOUT_S)
    elif name in EXPLAINED:
        text, wanted = EXPLAINED[name]
        await session.open("sentiment")
        await session.rerun({"sentiment-text": text, "sentiment-run": True}, ANSWER_TIMEOUT_S)
        page = await session.rerun({"sentiment-explain-run": True}, ANSWER_TIMEOUT_S)
    else:  # the format-bomb label template, in the zero-shot mode
        await session.open("topic")
        await session.rerun({"topic-mode": ZERO_SHOT})
        page = await session.rerun({"topic-template": TEMPLATE_BOMB, "topic-zs-run": True}, ANSWER_TIMEOUT_S)
        wanted = "no braces other than"
    return any(wanted in text for text in page.texts()) and not any(e.kind == "exception" for e in
                                                                     page.elements.values())  # fmt: skip


async def _session(url: str, number: int, mischievous: bool, tally: Tally, rounds: int, tag: str,
                   lesson: str) -> None:  # fmt: skip
    session = Session(url)
    await session.connect()
    try:
        for round_ in range(rounds):
            for step, name in enumerate(flows_of(number, lesson)):
                session.durations.clear()
                if mischievous:
                    mischief = MISCHIEF_OF[lesson]
                    bad = mischief[(step + round_ + number // 5) % len(mischief)]
                    try:
                        ok = await _bad(session, bad)
                    except Exception as error:  # noqa: BLE001 - a timeout is a finding, not a crash of the benchmark
                        ok = False
                        tally.bad_unclear.append(f"session {number} {bad}: {type(error).__name__}")
                    if bad in HEAVIEST:
                        tally.heavy_done += ok
                    else:
                        tally.refused += ok
                    if not ok:
                        tally.bad_unclear.append(f"session {number}: {bad} got no message")
                    continue
                text = text_for(name, number, tag)
                try:
                    elapsed, answer = await flow(session, name, text)
                except Exception as error:  # noqa: BLE001
                    tally.errors.append(
                        f"session {number} {name}: {type(error).__name__}: {str(error)[:120]}"
                    )
                    continue
                tally.steps.extend(session.durations)
                problems = session.last.problems()
                if problems:
                    tally.errors.append(f"session {number} {name}: {problems[0]}")
                    continue
                tally.latencies.append(elapsed)
                tally.answers.append((name, text, answer))
    finally:
        await session.close()


async def run(url: str, sessions: int, rounds: int, mischief: bool, tag: str = "", lesson: str = "en") -> Tally:
    """``sessions`` at once; with a ``tag`` every session sends inputs of its own (nothing is shared)."""
    tally = Tally()
    await asyncio.gather(*[_session(url, number, mischief and number % 5 == 4, tally, rounds, tag, lesson)
                           for number in range(sessions)])  # fmt: skip
    return tally


async def reference(url: str, inputs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each (flow, text) answered by one lone session, one after another."""
    session = Session(url)
    await session.connect()
    answers = {}
    try:
        for name, text in inputs:
            answers[(name, text)] = (await flow(session, name, text))[1]
    finally:
        await session.close()
    return answers
