"""The classroom flows in a real browser: one headless Chromium, one context (one Streamlit session) each.

Used by benchmarks/classroom.py --client browser. Here the browsers share the server's cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time

import psutil
from lesson import (
    ANSWER_TIMEOUT_S,
    BAD,
    EXPLAIN_BOMB,
    GENERATE,
    INSPECT,
    PASTE_BOMB,
    SENTIMENT,
    SUMMARY_BOMB,
    TEMPLATE_BOMB,  # fmt: skip
    TOPIC,
    TRANSLATE,
    Tally,
    flows_of,
    text_for,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ANSWER_TIMEOUT_MS = ANSWER_TIMEOUT_S * 1000


async def _open(page, url: str, heading: str) -> None:
    await page.goto(url, timeout=ANSWER_TIMEOUT_MS)
    await page.get_by_text(heading).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    await _idle(page)


async def _idle(page) -> None:
    """Wait until the page's script run has finished (Streamlit's "running" indicator is gone)."""
    await page.wait_for_timeout(250)
    for _ in range(int(ANSWER_TIMEOUT_MS / 250)):
        if not await page.locator("[data-testid='stStatusWidget']").count():
            return
        await page.wait_for_timeout(250)


async def _type(page, key: str, text: str, kind: str = "textarea") -> None:
    box = page.locator(f".st-key-{key} {kind}")
    await box.fill(text)
    await box.press("Control+Enter" if kind == "textarea" else "Enter")
    await _idle(page)  # a click sent while the text's own rerun runs can be dropped by Streamlit


RESENT: list[int] = []  # clicks the page dropped (no script run started) and the student clicked again


async def _click_and_wait(page, button: str, answer: str, must_contain: str) -> tuple[float, str]:
    """Click and wait for the answer; seconds are counted from the first click.

    Streamlit can drop a click that arrives while the same session's previous rerun is being replaced
    (seen here under load on a fresh server): when no script run starts within 5 s, the student clicks
    again, as a person would, and the benchmark counts it.
    """
    started = time.perf_counter()
    await page.locator(f".st-key-{button} button").click()
    target = page.locator(f".st-key-{answer}").filter(has_text=must_contain)
    ran = False
    last_click = started
    while time.perf_counter() - started < ANSWER_TIMEOUT_MS / 1000:
        if await target.count():
            return time.perf_counter() - started, await target.first.inner_text()
        ran = ran or bool(await page.locator("[data-testid='stStatusWidget']").count())
        if not ran and time.perf_counter() - last_click > 5:
            RESENT.append(1)
            await page.locator(f".st-key-{button} button").click()
            last_click = time.perf_counter()
        await page.wait_for_timeout(200)
    raise TimeoutError(f"no answer in {answer} within {ANSWER_TIMEOUT_MS / 1000:.0f} s")


async def _problems(page) -> list[str]:
    found = []
    if await page.locator("[data-testid='stException']").count():
        found.append(
            "exception: " + (await page.locator("[data-testid='stException']").first.inner_text())[:200]
        )
    if await page.locator("[data-testid='stAlertContentError']").count():
        found.append(
            "error: " + (await page.locator("[data-testid='stAlertContentError']").first.inner_text())[:200]
        )
    return found


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


async def _flow(page, url: str, name: str, index: int) -> tuple[float, str]:
    """One normal request: returns (seconds from click to answer, the answer's deciding text)."""
    if name == "sentiment":
        await _open(page, url + "/sentiment", "Sentiment analysis")
        await _type(page, "sentiment-text", SENTIMENT[index % 4])
        elapsed, text = await _click_and_wait(page, "sentiment-run", "sentiment-answer", "Latency")
        label = text.split("Label", 1)[1] if "Label" in text else text
        return elapsed, _first_line(label)
    if name == "topic":
        await _open(page, url + "/topic", "Topic classification")
        await page.locator(".st-key-topic-mode button").filter(has_text="Zero-shot").click()
        await page.locator(".st-key-topic-zs-run").wait_for(timeout=ANSWER_TIMEOUT_MS)
        await _type(page, "topic-text", TOPIC[index % 4])
        elapsed, text = await _click_and_wait(page, "topic-zs-run", "topic-answer", "Zero-shot:")
        return elapsed, _first_line(text)
    if name == "translate":
        await _open(page, url + "/translate", "Machine translation")
        await _type(page, "translate-text", TRANSLATE[index % 4])
        elapsed, text = await _click_and_wait(page, "translate-run", "translate-answer", "Latency")
        return elapsed, _first_line(text)
    if name == "generate":
        await _open(page, url + "/generate", "Text generation")
        await _type(page, "generate-prompt", GENERATE[index % 4], kind="input")
        await page.get_by_role("tab", name="Generate").click()
        elapsed, text = await _click_and_wait(page, "generate-run", "generate-answer", "tokens in")
        return elapsed, _first_line(text)
    if name == "inspect":
        started = time.perf_counter()
        from urllib.parse import quote

        await page.goto(
            url + "/inspect_attention?text=" + quote(INSPECT[index % 4]), timeout=ANSWER_TIMEOUT_MS
        )
        await page.get_by_text("Inspect attention").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        await page.locator("iframe").first.wait_for(timeout=ANSWER_TIMEOUT_MS)  # the bertviz view
        box = await page.locator(".st-key-inspect-text input").input_value()
        return time.perf_counter() - started, box
    raise ValueError(name)


async def _bad(page, url: str, name: str) -> bool:
    """One bad input; True when the server answered it with a clear message (or capped it) in time."""
    if name == "summary":
        await _open(page, url + "/summarize", "Summarization")
        await _type(page, "sum-text", SUMMARY_BOMB)
        await page.locator(".st-key-sum-run button").click()
        message = page.get_by_text("summaries take at most")
    elif name == "explain":
        await _open(page, url + "/sentiment", "Sentiment analysis")
        await _type(page, "sentiment-text", EXPLAIN_BOMB)
        await page.locator(".st-key-sentiment-run button").click()
        await page.locator(".st-key-sentiment-explain-run button").click(timeout=ANSWER_TIMEOUT_MS)
        message = page.get_by_text("Explanations take at most")
    elif name == "template":
        await _open(page, url + "/topic", "Topic classification")
        await page.locator(".st-key-topic-mode button").filter(has_text="Zero-shot").click()
        await _type(page, "topic-template", TEMPLATE_BOMB, kind="input")
        await page.locator(".st-key-topic-zs-run button").click()
        message = page.get_by_text("no braces other than")
    else:  # a 200 KB paste into a text box
        await _open(page, url + "/sentiment", "Sentiment analysis")
        await _type(page, "sentiment-text", PASTE_BOMB)
        await page.locator(".st-key-sentiment-run button").click()
        message = page.get_by_text("the limit is")
    try:
        await message.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    except Exception:
        return False
    return not await page.locator("[data-testid='stException']").count()


async def _session(browser, url: str, number: int, mischievous: bool, tally: Tally, rounds: int) -> None:
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    await context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else route.abort())  # fmt: skip
    page = await context.new_page()
    dialogs: list[str] = []
    page.on(
        "dialog", lambda dialog: (dialogs.append(dialog.message), asyncio.ensure_future(dialog.dismiss()))
    )
    try:
        for round_ in range(rounds):
            flows = flows_of(number)
            for step, name in enumerate(flows):
                if mischievous:
                    try:
                        ok = await _bad(page, url, BAD[(step + round_) % len(BAD)])
                    except Exception as error:  # noqa: BLE001 - a timeout is a finding, not a crash of the benchmark
                        ok = False
                        tally.bad_unclear.append(f"session {number}: {type(error).__name__}")
                    tally.refused += ok
                    if not ok:
                        tally.bad_unclear.append(
                            f"session {number}: {BAD[(step + round_) % len(BAD)]} got no message"
                        )
                    continue
                try:
                    elapsed, answer = await _flow(page, url, name, number)
                except Exception as error:  # noqa: BLE001
                    tally.errors.append(
                        f"session {number} {name}: {type(error).__name__}: {str(error)[:120]}"
                    )
                    continue
                problems = await _problems(page)
                if problems:
                    tally.errors.append(f"session {number} {name}: {problems[0]}")
                    continue
                tally.latencies.append(elapsed)
                tally.answers.append((name, text_for(name, number), answer))
        if dialogs:
            tally.errors.append(f"session {number}: a dialog opened ({dialogs[0][:80]})")
    finally:
        await context.close()


class BrowserCpu:
    """CPU time of the benchmark's own Chromium (its process tree), read just before it closes."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.total = 0.0


def tree_cpu(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0.0


async def run(url: str, sessions: int, rounds: int, mischief: bool, meter: BrowserCpu) -> Tally:
    from playwright.async_api import async_playwright

    tally = Tally()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                            "--disable-background-networking", "--no-first-run"])  # fmt: skip
        driver = psutil.Process(os.getpid())
        # In a classroom the browsers run on the students' machines. Here they share the server's cores, so
        # they run at the lowest priority (renderers forked later inherit it): the server gets the CPU first.
        server_tree = {meter.server_pid}
        with contextlib.suppress(psutil.Error):
            server_tree |= {p.pid for p in psutil.Process(meter.server_pid).children(recursive=True)}
        for child in driver.children(recursive=True):
            if child.pid not in server_tree:
                with contextlib.suppress(psutil.Error):
                    child.nice(19)
        try:
            await asyncio.gather(*[
                _session(browser, url, number, mischief and number % 5 == 4, tally, rounds)
                for number in range(sessions)
            ])  # fmt: skip
        finally:
            # Playwright's driver and the browser it started are this process's children, beside the server
            meter.total = sum(
                tree_cpu(child.pid) for child in driver.children() if child.pid not in server_tree
            )
            await browser.close()
    return tally
