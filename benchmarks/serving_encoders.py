"""Serving a class, continued: the sentence encoder (Topic's zero-shot labels) and the SRL tagger, each request alone
against requests that arrive together sharing passes.

    python benchmarks/serving_encoders.py [--cache DIR] [--sessions 1,4,16,32] [--requests 200]

N sessions are N threads asking the shared model, as Streamlit serves a class. Each way runs twice on the same
requests: with the coalescer limited to one request per turn (each request's own texts or frames, sorted by
length into passes, in turn), then with shared turns (up to 32 requests, their texts sorted by length together and
cut where the length jumps). Printed: requests per second, the ratio, p50 / p95 latency of one request, and whether
every session got the same answer both ways (zero-shot: the winning label; SRL: every tag). Zero-shot requests are
the held-out newsgroup posts (their first 1,000 characters) with the labels "atheism" and "space"; SRL requests the
200 held-out generated sentences, all their predicates. The SRL model is the cache's (trained once with its default recipe when absent).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving import ROOT, _counts, _one_pass_against_shared  # noqa: E402 - the same sessions and rows as serving.py


def _table(title: str, unit: str, page, coalescer, requests: list, sessions: list[int]) -> None:
    print(f"\n{title}\n")
    print(f"| way | {unit}/s | vs each request alone | p50 ms | p95 ms | same answers |")
    print("|---|---:|---:|---:|---:|---:|")
    _one_pass_against_shared(page, requests, sessions, coalescer, 32, decimals=1, alone="each request alone")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "lmlab-classroom-cache")
    parser.add_argument("--sessions", default="1,4,16,32")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.update(LMLAB_CACHE_HOME=str(args.cache), LMLAB_OFFLINE="1")
    if not (args.cache / "models" / "srl-minilm" / "metadata.json").is_file():
        print("training srl-minilm once…", flush=True)
        subprocess.run([sys.executable, "-m", "core.train", "--model", "srl-minilm"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    from core import catalog, settings
    from core.data import newsgroups, srl
    from core.device import threads_for_serving
    from core.tasks.srl import SrlLabeler
    from core.tasks.zero_shot import ZeroShotClassifier

    settings.decide_mode()
    threads_for_serving()  # torch threads as the server sets them
    sessions = _counts(args.sessions)

    zero_shot = ZeroShotClassifier()
    posts = [example.text[:1000] for example in newsgroups.split()[0].test]  # a paragraph pasted: ≤ 1,000 characters
    posts = (posts * (args.requests // len(posts) + 1))[: args.requests]

    class Topic:  # what the Topic page's zero-shot mode asks for
        @staticmethod
        def predict(text: str):
            return type("Answer", (), {"label": zero_shot.classify(text, ["atheism", "space"]).label})

    for post in posts[:3]:
        Topic.predict(post)
    _table(f"zero-shot topic (sentence encoder), {len(posts)} held-out newsgroup posts, 2 labels", "requests",
           Topic, zero_shot.encoder.coalescer, posts, sessions)  # fmt: skip

    labeler = SrlLabeler(catalog.SRL_MINILM)
    sentences = [sentence.text for sentence in srl.corpus().test][: args.requests]

    class Roles:  # what the SRL page asks for: every suggested predicate's frame
        @staticmethod
        def predict(text: str):
            return type("Answer", (), {"label": [frame.tags for frame in labeler.label(text).frames]})

    for sentence in sentences[:3]:
        Roles.predict(sentence)
    _table(f"semantic role labelling, {len(sentences)} held-out sentences, every predicate", "sentences", Roles,
           labeler.coalescer, sentences, sessions)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
