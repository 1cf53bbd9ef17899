"""A class on one server: N sessions at once, some of them sending the worst inputs.

    python benchmarks/classroom.py [--sessions 1,10,20] [--client protocol|browser] [--cache DIR] [--rounds 1]
                                   [--lesson en|zh]

Starts the real server (offline, its own model cache), trains the models the flows need once (the real
architectures, one short epoch each: this measures serving, not accuracy), then for each N opens N
sessions and runs them all at once. Every session does the five flows of a lesson — Sentiment
"Analyse", Topic zero-shot, Translate, Generate, Inspect — with its own text. One session in five is
"mischievous": between its flows it sends the bad inputs of the classroom table (a 5,000-character
summary of "Go. ", an explanation of 430 tokens of made-up words, a format-bomb label template, a
200 KB paste). `--lesson zh` runs the Chinese lesson instead, with the interface in Chinese: Sentiment on Chinese
reviews, Tokenization (five ways, redrawn as the text changes), Segmentation, Translate Chinese → English and Generate
with the Chinese character GPT; its mischievous sessions paste 200,000 characters of Chinese, send a box of
invisible characters to segment, and the heaviest accepted inputs (2,000 characters to segment, 1,000 to tokenize).

Two kinds of session. `protocol` (the default) speaks Streamlit's websocket protocol from Python
(benchmarks/streamlit_client.py): the server receives exactly what a browser sends, and the students'
rendering stays off the server's cores, as in a classroom where every student has a laptop. `browser`
opens N pages in one headless Chromium (Debian's chromium and playwright needed) on the same machine:
it checks the whole path, but on 2 cores the browsers use more CPU than the server.

Printed per N: p50 / p95 / max seconds from request to answer for normal requests, errors (an
exception box, an error message on a normal request, a missing answer), wrong answers (an answer that
differs from what the same input gave a lone session: the models are deterministic, so any difference
is a mix-up between sessions), refused bad inputs (a clear message is the right outcome), the server's
peak resident memory (the process and its children), the CPU each side used, and the server's own
script-run times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from classroom_browser import tree_cpu

ROOT = Path(__file__).resolve().parent.parent

# The models the flows use, trained once into the benchmark's cache with the recipes' own
# architectures (so memory is what a class meets) but one short epoch (the answers' quality is not measured).
PREPARE = {
    "sentiment-minilm": ["epochs=1"],
    "translate-en-zh": ["epochs=1", "examples=2000"],
    "lm-lee-gpt": ["epochs=2"],
}
# The Chinese lesson's: its Sentiment, Segmentation, Translate and Generate models, and the tokenizers the Tokenization
# page shows (the character vocabulary comes with the segmenter, the byte-level BPE with the English GPT).
PREPARE_ZH = {
    "sentiment-zh-pieces": ["epochs=0.2"],
    "segment-zh": ["epochs=0.2"],
    "translate-zh-en": ["epochs=1", "examples=2000"],
    "zh-char-gpt": ["epochs=0.1"],
    "lm-lee-gpt": ["epochs=2"],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(cache: Path, lesson: str = "en") -> None:
    env = dict(os.environ, LMLAB_CACHE_HOME=str(cache), LMLAB_OFFLINE="1")
    for key, overrides in (PREPARE_ZH if lesson == "zh" else PREPARE).items():
        if (cache / "models" / key / "metadata.json").is_file():
            continue
        print(f"training {key} once for the benchmark ({', '.join(overrides)})…", flush=True)
        command = [sys.executable, "-m", "core.train", "--model", key]
        for item in overrides:
            command += ["--set", item]
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


class Server:
    """The real server, offline, with a thread sampling the resident memory of it and its children."""

    def __init__(self, cache: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.timing_log = cache / "script-runs.jsonl"  # one line per script run, written by the app
        self.timing_log.unlink(missing_ok=True)
        env = dict(
            os.environ,
            LMLAB_CACHE_HOME=str(cache),
            LMLAB_OFFLINE="1",
            LMLAB_AUTOTRAIN="0",
            LMLAB_TIMING_LOG=str(self.timing_log),
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.peak_rss = 0
        self._stop = threading.Event()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            self.close()
            raise RuntimeError("the server did not answer within 90 s")
        threading.Thread(target=self._sample, daemon=True).start()

    def rss(self) -> int:
        try:
            root = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, self.rss())

    def reset_peak(self) -> None:
        self.peak_rss = self.rss()

    def script_runs(self, since: float, until: float) -> list[float]:
        """Seconds each script run took on the server between two moments (the server's share of a wait)."""
        import json

        runs = []
        with contextlib.suppress(OSError), self.timing_log.open(encoding="utf-8") as log:
            for line in log:
                with contextlib.suppress(ValueError, KeyError):
                    record = json.loads(line)
                    if since <= record["t"] <= until:
                        runs.append(float(record["s"]))
        return runs

    def cpu_seconds(self) -> float:
        """CPU time the server process and its children have used so far."""
        return tree_cpu(self.process.pid)

    def close(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _check(tally, reference: dict[tuple[str, str], str]) -> None:
    for name, text, answer in tally.answers:
        expected = reference.get((name, text))
        if expected is None:
            tally.wrong.append(f"{name} {text[:40]!r}: no reference answer")
        elif answer != expected:
            first = next(i for i, (a, b) in enumerate(zip(answer + "\0", expected + "\1", strict=False)) if a != b)
            tally.wrong.append(f"{name} {text[:40]!r}: …{answer[max(0, first - 30):first + 50]!r} ≠ "
                               f"…{expected[max(0, first - 30):first + 50]!r}")


def _sessions(client: str, url: str, count: int, rounds: int, mischief: bool, server_pid: int, tag: str = "",
              lesson: str = "en"):  # fmt: skip
    """Run `count` sessions with the chosen client: (tally, clicks sent again, browser CPU seconds)."""
    if client == "browser":
        import classroom_browser

        classroom_browser.RESENT.clear()
        meter = classroom_browser.BrowserCpu(server_pid)
        tally = asyncio.run(classroom_browser.run(url, count, rounds, mischief, meter))
        return tally, len(classroom_browser.RESENT), meter.total
    import classroom_protocol

    return asyncio.run(classroom_protocol.run(url, count, rounds, mischief, tag, lesson)), 0, 0.0


def _protocol_reference(cache: Path, counts: list[int], lesson: str = "en") -> dict[tuple[str, str], str]:
    """Every input the measured sessions will send, answered one at a time by a lone session on a server of
    its own: the measured server starts with nothing computed (no shared result is warm)."""
    import classroom_protocol
    from lesson import LESSONS, text_for

    inputs = [(name, text_for(name, number, f"class of {count}, seat"))
              for count in counts for number in range(count) for name in LESSONS[lesson]]  # fmt: skip
    server = Server(cache)
    try:
        return asyncio.run(classroom_protocol.reference(server.url, inputs))
    finally:
        server.close()


def _per_flow(tally) -> str:
    """p50 / max seconds of each flow's normal requests (a latency and its answer are recorded together)."""
    by_flow: dict[str, list[float]] = {}
    for (name, _text, _answer), seconds in zip(tally.answers, tally.latencies, strict=True):
        by_flow.setdefault(name, []).append(seconds)
    return "; ".join(f"{name} p50 {statistics.median(found):.2f} / max {max(found):.2f} s"
                     for name, found in by_flow.items())  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(share * len(ordered))) - 1)] if ordered else float("nan")


HEADER = ("| sessions | normal requests | p50 s | p95 s | max s | slowest step s | errors | wrong answers "
          "| bad inputs refused | heaviest inputs answered | unanswered | clicks sent again | peak RSS GB | wall s "
          "| server CPU s | browser CPU s | harness CPU s | script runs | run p50 s | run p95 s | run max s |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="1,10,20", help="comma-separated session counts")
    parser.add_argument("--client", choices=["protocol", "browser"], default="protocol")
    parser.add_argument("--rounds", type=int, default=1, help="lessons (five flows) per session")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "lmlab-classroom-cache")
    parser.add_argument("--lesson", choices=["en", "zh"], default="en",
                        help="zh: the Chinese lesson (Chinese interface; Sentiment on Chinese reviews, Tokenization, "
                        "Segmentation, Translate Chinese to English, Generate with the Chinese character GPT)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.client == "browser" and args.lesson != "en":
        print("The Chinese lesson runs with the protocol client only.", file=sys.stderr)
        return 2
    if args.client == "browser":
        from classroom_browser import CHROMIUM

        if CHROMIUM is None:
            print("Debian's chromium is needed (apt-get install chromium).", file=sys.stderr)
            return 2
    args.cache.mkdir(parents=True, exist_ok=True)
    prepare(args.cache, args.lesson)
    counts = [int(part) for part in args.sessions.split(",") if part.strip()]
    if args.client == "protocol":
        print(f"reference answers: {5 * sum(counts)} inputs, one lone session, a server of its own…", flush=True)
        reference = _protocol_reference(args.cache, counts, args.lesson)
    server = Server(args.cache)
    try:
        print("warming up: each model loaded once by a lesson with inputs nobody sends later…", flush=True)
        warm, _, _ = _sessions(args.client, server.url, 4, 1, False, server.process.pid, "warm-up, seat", args.lesson)
        if warm.errors:
            print("the warm-up failed:", *warm.errors, sep="\n  ")
            return 1
        if args.client == "browser":  # the browser sessions send the four base texts; their lone answers
            reference = {(name, text): answer for name, text, answer in warm.answers}
        rows = []
        for count in counts:
            server.reset_peak()
            started, server_cpu, wall_start = time.perf_counter(), server.cpu_seconds(), time.time()
            harness_cpu = sum(psutil.Process().cpu_times()[:2])  # this script: asyncio, the clients
            tally, resent, browser_cpu = _sessions(args.client, server.url, count, args.rounds, count >= 5,
                                                   server.process.pid, f"class of {count}, seat", args.lesson)  # fmt: skip
            wall = time.perf_counter() - started
            server_cpu = server.cpu_seconds() - server_cpu
            runs = server.script_runs(wall_start, time.time())
            harness_cpu = sum(psutil.Process().cpu_times()[:2]) - harness_cpu
            _check(tally, reference)
            latencies = tally.latencies
            rows.append((count, len(latencies), statistics.median(latencies) if latencies else float("nan"),
                         _percentile(latencies, 0.95), max(latencies, default=float("nan")),
                         max(tally.steps, default=float("nan")), len(tally.errors), len(tally.wrong), tally.refused,
                         tally.heavy_done, len(tally.bad_unclear), resent, server.peak_rss / 2**30,
                         wall, server_cpu, browser_cpu, harness_cpu, len(runs),
                         statistics.median(runs) if runs else float("nan"), _percentile(runs, 0.95),
                         max(runs, default=float("nan"))))  # fmt: skip
            for line in (tally.errors + tally.wrong + tally.bad_unclear)[:10]:
                print("   ", line)
            print(f"  N={count}: p50 {rows[-1][2]:.2f} s, p95 {rows[-1][3]:.2f} s, max {rows[-1][4]:.2f} s, "
                  f"slowest step {rows[-1][5]:.2f} s", flush=True)  # fmt: skip
            print("   ", _per_flow(tally), flush=True)
        print()
        from core import settings

        interval = os.environ.get("LMLAB_SWITCH_INTERVAL_MS", "").strip() or f"{settings.SWITCH_INTERVAL_MS:g}"
        print(f"client: {args.client}; the server's GIL switch interval: {interval} ms (LMLAB_SWITCH_INTERVAL_MS)")
        print(HEADER)
        print("|" + "---:|" * (HEADER.count(" | ") + 1))
        for row in rows:
            print("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {} | {} | {} | {} | {} | {} | {:.2f} | {:.0f} "
                  "| {:.0f} | {:.0f} | {:.0f} | {} | {:.2f} | {:.2f} | {:.2f} |".format(*row))  # fmt: skip
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
