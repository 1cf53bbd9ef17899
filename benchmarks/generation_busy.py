"""One generation (or translation, or explanation) while other threads keep Python busy, two ways side by side.

    python benchmarks/generation_busy.py [--model zh-char-gpt] [--busy 0,4] [--tokens 40]
    python benchmarks/generation_busy.py --translation [--model translate-zh-en] [--busy 0,2,4]
    python benchmarks/generation_busy.py --explain [--model sentiment-minilm] [--busy 0,2,4]

A server's sessions are threads of one Python process. PyTorch lets go of Python's GIL during every operation of a
forward pass and takes it back afterwards; when other threads want it, each take-back waits. A generation is dozens
of small passes of many operations, so it is the request that suffers most. This times one greedy generation of the
model (trained here, in the cache) alone and beside N threads running plain Python, on PyTorch and on the ONNX
Runtime export LM Lab generates with (core.tasks.lm_onnx), and checks that both write the same text. With
``--translation``, one greedy translation of a held-out sentence with its attention maps, as the Translate page asks
for it (core.tasks.seq2seq_onnx). With ``--explain``, the Sentiment page's explanation (integrated gradients, 34 passes
forward and backward, and occlusion) of the longest held-out polarity sentence, then Inspect's attention maps and the
sentence encoder's embedding of it, and the Generate page's attribution of 20 tokens the English GPT wrote, eager and
through the traced passes they run on (core.tasks.traced), on one torch thread as the server runs them; the numbers
must be the same (for the attribution, whose texts differ run to run, only their shape is compared here: the tests
compare the numbers).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _busy(stop: threading.Event) -> None:
    total = 0
    while not stop.is_set():
        for i in range(1000):
            total += i * i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zh-char-gpt")
    parser.add_argument("--busy", default="0,4", help="comma-separated numbers of busy Python threads")
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--translation", action="store_true", help="a translation model's greedy decoding instead")
    parser.add_argument("--explain", action="store_true", help="a classifier's explanation instead")
    args = parser.parse_args()
    if args.explain:
        _explain("sentiment-minilm" if args.model == "zh-char-gpt" else args.model, args.busy)
        return
    if args.translation:
        _translation("translate-zh-en" if args.model == "zh-char-gpt" else args.model, args.busy)
        return
    from core import catalog
    from core.tasks.generate import LanguageModel

    model = LanguageModel(catalog.get_spec(args.model))
    prompt = "中国人民" if args.model.startswith("zh") else "The government said"
    model.generate(prompt, max_new_tokens=4, seed=0)  # exports on first use
    onnx = model._next_token
    if onnx is None:
        sys.exit(f"{args.model} generates on PyTorch here: {model.generation_note}")
    texts = {}
    for busy in [int(part) for part in args.busy.split(",")]:
        for runtime, runner in (("ONNX Runtime", onnx), ("PyTorch", None)):
            model._next_token = runner
            made, seconds = beside_busy_python(
                busy, lambda: model.generate(prompt, max_new_tokens=args.tokens, temperature=0.0, seed=0))
            texts[runtime] = made.text
            print(f"{busy} busy threads, {runtime:12s}: {len(made.steps)} tokens in {seconds:7.2f} s", flush=True)
    model._next_token = onnx
    print("the same text on both:", texts["ONNX Runtime"] == texts["PyTorch"])


def beside_busy_python(busy: int, work):
    """``work()``'s answer and seconds, beside ``busy`` threads running plain Python."""
    stop = threading.Event()
    threads = [threading.Thread(target=_busy, args=(stop,)) for _ in range(busy)]
    for thread in threads:
        thread.start()
    try:
        started = time.perf_counter()
        answer = work()
        return answer, time.perf_counter() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _translation(key: str, busy_counts: str) -> None:
    from core import catalog
    from core.data import translation
    from core.tasks.translate import Translator, direction

    spec = catalog.get_spec(key)
    text = direction(spec.task)[0](translation.corpus(train_size=0).test[0])
    on_onnx = Translator(spec)  # exported as it loads
    if on_onnx._greedy is None:
        sys.exit(f"{key} decodes on PyTorch here: {on_onnx.runtime_note}")
    on_torch = Translator(spec, onnx=False)
    texts = {}
    for busy in [int(part) for part in busy_counts.split(",")]:
        for runtime, translator in (("ONNX Runtime", on_onnx), ("PyTorch", on_torch)):
            translator.translate(text)
            made, seconds = beside_busy_python(busy, lambda translator=translator: translator.translate(text))
            texts[runtime] = made.text
            print(f"{busy} busy threads, {runtime:12s}: {len(made.target_tokens)} tokens with their attention maps in "
                  f"{seconds:7.2f} s ({made.runtime})", flush=True)  # fmt: skip
    print(f"{text} → {texts['ONNX Runtime']}; the same text on both:", texts["ONNX Runtime"] == texts["PyTorch"])


def _explain(key: str, busy_counts: str) -> None:
    from core import catalog
    from core.attention import AttentionModel
    from core.data import polarity
    from core.device import threads_for_serving
    from core.tasks.attribution import explain
    from core.tasks.classify import TransformerClassifier
    from core.tasks.embeddings import SentenceEncoder

    threads_for_serving()
    text = max((example.text for example in polarity.split().test), key=len)
    traced, eager = TransformerClassifier(catalog.get_spec(key)), TransformerClassifier(catalog.get_spec(key))
    started = time.perf_counter()
    forward = traced.traced_pass.get()
    if forward.traced is None:
        sys.exit(f"{key} is not traced here: {forward.why}")
    print(f"traced and checked in {time.perf_counter() - started:.2f} s; {len(text.split())} words", flush=True)
    eager.traced_pass.stay_eager()  # this one keeps the eager model
    maps = [AttentionModel(catalog.MINILM) for _ in range(2)]
    encoders = [SentenceEncoder() for _ in range(2)]
    from core.tasks.generate import LanguageModel
    from core.tasks.seq_attribution import attribute_generation

    writers = [LanguageModel(catalog.LM_LEE) for _ in range(2)]
    written = iter(writers[0].generate("The government said", max_new_tokens=20, seed=seed) for seed in range(99))
    for eager_one in (maps[1], encoders[1], writers[1]):
        eager_one.traced_pass.stay_eager()

    def attributed(writer):
        made = next(written)  # a new text each time: a repeated one is answered from the shared memo
        return attribute_generation(writer, made.ids, made.start)
    work = {  # name: (traced, eager, what to compare)
        "explanation": (lambda: explain(traced, text), lambda: explain(eager, text),
                        lambda made: [(w.gradient_x_input, w.integrated_gradients, w.occlusion) for w in made.words]),
        "Inspect's maps": (lambda: maps[0]._attend(text, None, 128), lambda: maps[1]._attend(text, None, 128),
                           lambda made: made.weights.tobytes()),
        "sentence encoder": (lambda: encoders[0].encode([text]), lambda: encoders[1].encode([text]),
                             lambda made: made.tobytes()),
        "Generate's attribution": (lambda: attributed(writers[0]), lambda: attributed(writers[1]),
                                   lambda made: made.integrated.shape),
    }  # fmt: skip
    for name, (on_trace, on_eager, outcome) in work.items():
        answers = {}
        for busy in [int(part) for part in busy_counts.split(",")]:
            for way, run in (("traced", on_trace), ("eager", on_eager)):
                run()
                made, seconds = beside_busy_python(busy, run)
                answers[way] = outcome(made)
                print(f"{name}, {busy} busy threads, {way:6s}: {seconds:6.2f} s", flush=True)
        print(f"{name}: the same numbers both ways:", answers["traced"] == answers["eager"], flush=True)


if __name__ == "__main__":
    main()
