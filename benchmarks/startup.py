"""Time from `streamlit run` to the Home page showing its content in headless Chromium.

    python benchmarks/startup.py [--runs 3]

Also reports whether the server process has loaded torch after Home rendered (it should not:
Home asks a child process for the device). Needs Debian's chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_run(browser) -> tuple[float, bool]:
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.headless", "true"],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        page = browser.new_page()
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                break
            except Exception:
                if time.perf_counter() - started > 60:
                    raise
                time.sleep(0.05)
        page.get_by_text("What you can do").first.wait_for(timeout=60_000)
        elapsed = time.perf_counter() - started
        page.close()
        maps = [m.path for m in psutil.Process(server.pid).memory_maps()]
        torch_loaded = any("libtorch" in path for path in maps)
        return elapsed, torch_loaded
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        results = [one_run(browser) for _ in range(args.runs)]
        browser.close()
    times = [seconds for seconds, _ in results]
    print(f"streamlit run → Home content visible: median {statistics.median(times):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)})")  # fmt: skip
    print(f"server process loaded torch after Home: {any(loaded for _, loaded in results)}")


if __name__ == "__main__":
    main()
