"""Time from `streamlit run` to the first page showing its content, in headless Chromium.

    python benchmarks/startup.py [--runs 3] [--learn-page multi_head]

Measured, each run on a fresh server: LM Lab's Home page; a trivial one-page Streamlit app (a title and a
line of text) in the same browser, the floor any Streamlit app pays; and the first visit to a Learn page
(Self-attention, drawn with the real MiniLM) — opened by a student right after the teacher's Home page
appeared, opened 20 s later (the warm-up has loaded MiniLM by then), and opened as the server's very
first page. Also reports whether the server process has loaded torch just after Home appeared (Home itself
does not import it; the warm-up thread, started after Home's script run, does).
Needs Debian's chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


TRIVIAL_APP = 'import streamlit as st\n\nst.title("A trivial app")\nst.write("What you can do")\n'
# a heading each Learn page draws after the model has answered
LEARN_DONE = {"self_attention": "4 · Softmax", "multi_head": "How the heads differ",
              "positional_encoding": "Rotary position embedding (RoPE)",
              "tokenization": "How each way fits real Chinese text", "encoder_decoder": "Shapes, step by step"}


def _serve(script: str, cwd: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.headless", "true"],
        cwd=cwd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return server, port


def _open(page, url: str, started: float) -> None:
    while True:
        try:
            page.goto(url, timeout=2000)
            return
        except Exception:
            if time.perf_counter() - started > 60:
                raise
            time.sleep(0.05)


def one_run(browser, script: str = "streamlit_app.py", cwd: Path = ROOT, pause: float = 0.0,
            learn: str = "self_attention") -> tuple[float, bool, float | None]:  # fmt: skip
    """Seconds to Home's content, whether torch was loaded by then, and (LM Lab only) seconds until the Learn
    page ``learn`` (none if empty), opened ``pause`` seconds after Home appeared, has drawn its MiniLM steps."""
    started = time.perf_counter()
    server, port = _serve(script, cwd)
    try:
        page = browser.new_page()
        _open(page, f"http://127.0.0.1:{port}/", started)
        page.get_by_text("What you can do").first.wait_for(timeout=60_000)
        elapsed = time.perf_counter() - started
        maps = [m.path for m in psutil.Process(server.pid).memory_maps()]
        torch_loaded = any("libtorch" in path for path in maps)
        learn_s = None
        if script == "streamlit_app.py" and learn:
            time.sleep(pause)
            clicked = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/{learn}", timeout=60_000)
            page.get_by_text(LEARN_DONE[learn]).first.wait_for(timeout=120_000)
            learn_s = time.perf_counter() - clicked
        page.close()
        return elapsed, torch_loaded, learn_s
    finally:
        server.terminate()
        server.wait(timeout=20)


def learn_first(browser, learn: str) -> float:
    """Seconds from `streamlit run` to the Learn page ``learn`` drawn, when it is the server's first page."""
    started = time.perf_counter()
    server, port = _serve("streamlit_app.py", ROOT)
    try:
        page = browser.new_page()
        _open(page, f"http://127.0.0.1:{port}/{learn}", started)
        page.get_by_text(LEARN_DONE[learn]).first.wait_for(timeout=120_000)
        page.close()
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home-only", action="store_true",
                        help="only Home against the trivial app, the two alternating run by run")  # fmt: skip
    parser.add_argument("--learn-page", choices=sorted(LEARN_DONE), default="self_attention",
                        help="the Learn page whose first visit is timed")  # fmt: skip
    args = parser.parse_args()
    learn_page = args.learn_page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        results, trivial = [], []
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "app.py").write_text(TRIVIAL_APP, encoding="utf-8")
            for _ in range(args.runs):  # alternating, so that a machine that slows down slows both alike
                results.append(one_run(browser, learn="" if args.home_only else learn_page))
                trivial.append(one_run(browser, "app.py", Path(folder))[0])
        if not args.home_only:
            direct = [learn_first(browser, learn_page) for _ in range(args.runs)]
            later = [one_run(browser, pause=20.0, learn=learn_page)[2] for _ in range(args.runs)]
        browser.close()
    times = [seconds for seconds, _, _ in results]
    learn = [seconds for _, _, seconds in results]

    def runs(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f} s (runs: {', '.join(f'{v:.2f}' for v in values)})"

    print(f"streamlit run → LM Lab's Home content visible: {runs(times)}")
    print(f"streamlit run → a trivial one-page app's content visible: {runs(trivial)}; "
          f"Home / trivial = {statistics.median(times) / statistics.median(trivial):.2f} (medians), "
          f"{statistics.median(h / t for h, t in zip(times, trivial, strict=True)):.2f} (median of each run's pair)")  # fmt: skip
    if args.home_only:
        return
    print(f"Home visible → {learn_page} drawn with MiniLM, opened next: {runs(learn)}")
    print(f"Home visible, 20 s later {learn_page} opened → drawn: {runs(later)}")
    print(f"streamlit run → {learn_page} drawn, as the server's first page: {runs(direct)}")
    print(f"server process had loaded torch just after Home appeared: {any(loaded for _, loaded, _ in results)} "
          "(Home itself does not: the warm-up thread starts once Home's script run has finished)")


if __name__ == "__main__":
    main()
