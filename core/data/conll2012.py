"""Real SRL data: the CoNLL-2012 (OntoNotes 5) frames on the Hugging Face Hub, as LM Lab's frames.

Online only. The rows are documents of sentences, each with ``words`` and per predicate
``srl_frames`` of ``{"verb", "frames"}`` holding BIO tags in the PropBank labels the generated data
uses, so the same trainer and scorer apply.
"""

from __future__ import annotations

import hashlib

from core.data.srl import Frame, SrlCorpus, SrlSentence


def from_conll2012(documents, limit: int) -> tuple[SrlSentence, ...]:
    """Sentences with their frames from the Hub's ``conll2012_ontonotesv5`` rows (documents → sentences →
    ``words`` and ``srl_frames`` of ``{"verb", "frames"}`` with BIO tags); at most ``limit`` sentences."""
    found: list[SrlSentence] = []
    for document in documents:
        for sentence in document.get("sentences", []):
            words = tuple(str(word) for word in sentence.get("words", []))
            frames = []
            for frame in sentence.get("srl_frames", []):
                tags = tuple(str(tag) for tag in frame.get("frames", []))
                if len(tags) != len(words) or "B-V" not in tags:
                    continue  # a malformed frame: skip it rather than train on shifted labels
                frames.append(Frame(predicate=tags.index("B-V"), tags=tags, verb=str(frame.get("verb", "")),
                                    construction="conll2012"))  # fmt: skip
            if words and frames:
                found.append(SrlSentence(words=words, frames=tuple(frames)))
                if len(found) >= limit:
                    return tuple(found)
    return tuple(found)


def hub_corpus(name: str, train_size: int = 4000, test_size: int = 500) -> SrlCorpus:
    """CoNLL-2012 SRL frames from the Hugging Face Hub (online only), e.g.
    ``ontonotes/conll2012_ontonotesv5/english_v4`` (repository id, then the configuration)."""
    from core import settings
    from core.errors import DataError
    from core.messages import Message

    if not settings.current_mode().online:
        raise DataError(Message("The CoNLL-2012 frames come from the Hugging Face Hub; LM Lab is offline."))
    import datasets

    from core.catalog import split_hub_dataset

    path, config = split_hub_dataset(name)
    try:
        train = from_conll2012(datasets.load_dataset(path, config, split="train"), train_size)
        test = from_conll2012(datasets.load_dataset(path, config, split="test"), test_size)
    except Exception as error:  # the Hub's errors are many; all mean "could not load"
        raise DataError(f"Could not load {name!r} from the Hub: {error}") from None
    if not train or not test:
        raise DataError(f"{name!r} has no sentences with SRL frames in the expected format.")
    fingerprint = hashlib.sha256("\n".join(s.text for s in test).encode("utf-8")).hexdigest()[:16]
    return SrlCorpus(
        train=train, test=test, seed=0, fingerprint=fingerprint, dataset=f"{name} (Hugging Face Hub)"
    )
