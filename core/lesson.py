"""The lesson: the article's outline as numbered steps through LM Lab's pages, each with a goal, the one control to
try, and a question whose answer is computed from what the models actually do when the question is asked — never
stored text. A question built from the same model and input is the same for every student, so the class can
compare answers; the options are fixed by the computation (the true answer and plausible neighbours).

Each ``*_question`` takes what it reads (a tokenizer, attention weights, a model card, a patching grid, next-token
probabilities) so that the pages' shared models serve it; nothing here loads a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import CoreError
from core.messages import N_, Message

TOKENS_TEXT = "这部电影很好看，我非常喜欢。"
ATTENTION_TEXT = "The animal didn't cross the street because it was too tired."
HEADS_TEXT = "The keys to the cabinet are on the table."
PATCH_TEXTS = ("The film was great.", "The film was awful.")
NEXT_PROMPT = "The Prime Minister"
WALK = ("the cat sat on the mat", "le chat était assis", 2)  # the Encoder and decoder page's example: 2 padding tokens
TRANSLATE_TEXT = "Tom read a book in the library yesterday."


@dataclass(frozen=True)
class Step:
    key: str
    page: str  # the page the step happens on
    part: str  # where it is in the article's outline (marked for translation)
    goal: str  # what the student should come away with
    control: str  # the one control to try on that page
    needs: str | None = None  # a model trained here that the question reads (None: the packaged MiniLM or nothing)
    link: tuple[tuple[str, str], ...] = ()  # query parameters the step's link opens its page with


STEPS = (
    Step("tokens", "pages/tokenization.py", N_("Data preprocessing: tokenization"),
         N_("A model reads tokens, not characters: what its vocabulary lacks, it cannot see."),
         N_("Type a Chinese sentence and compare MiniLM's WordPiece with the character vocabulary.")),
    Step("attention", "pages/self_attention.py", N_("Self-attention"),
         N_("Every token's new vector is a weighted mix of the value vectors (V) of all tokens (with the causal mask, "
            "of itself and the tokens before it); the weights come from Q·Kᵀ/√d_k and a softmax."),
         N_("Set Layer and Head to their last values (layer 5, head 11 on MiniLM); in step 4 (softmax), find the row of "
            "'it', then step through the other heads of that layer.")),
    Step("heads", "pages/multi_head.py", N_("Multi-head attention"),
         N_("Different heads learn different jobs; some simply look one token back."),
         N_("Move the Head slider through the heads of one layer (both counted from 0) and compare their maps.")),
    Step("positions", "pages/positional_encoding.py", N_("Positional encoding"),
         N_("Sines and cosines of different frequencies give every position its own code, and nearby positions "
            "similar codes."),
         N_("Under 'Similarity by distance', see how the dot product of two codes depends on their distance.")),
    Step("encoder-decoder", "pages/encoder_decoder.py", N_("Encoder and decoder"),
         N_("The decoder reads the encoder's output through cross-attention; masks decide what each position may see: "
            "no position sees padding, and in the decoder's self-attention a target position sees only itself and the "
            "positions before it."),
         N_("Keep the example with 2 padding tokens and compare the masks with the attention weights under them.")),
    Step("training", "pages/train.py", N_("Fine-tuning"),
         N_("Fine-tuning adds a small head to a pretrained encoder and trains both on labelled examples; the held-out "
            "accuracy, with its confidence interval, says how well it learned."),
         N_("Under 4 · Evaluation, the run sentiment-minilm is chosen: read its accuracy and 95 % interval, then its "
            "loss curves."),
         needs="sentiment-minilm", link=(("run", "sentiment-minilm"),)),
    Step("translating", "pages/translate.py", N_("Applications: machine translation"),
         N_("An encoder-decoder translates: as it writes each token, its last layer's cross-attention shows which source "
            "tokens it weighs most — a hint, not proof of what it relies on."),
         N_("Translate the sentence in the question and read the cross-attention map under the translation."),
         needs="translate-en-zh", link=(("model", "translate-en-zh"),)),
    Step("patching", "pages/patch.py", N_("Beyond the article: where the answer is decided"),
         N_("Copying one vector from a run on 'great' into a run on 'awful' shows where the deciding information sits "
            "after each layer."),
         N_("Press the patch button for the example and follow the column of the changed word down the layers."),
         needs="sentiment-minilm", link=(("model", "sentiment-minilm"),)),
    Step("next-token", "pages/generate.py", N_("The article's definition: a language model predicts the next token"),
         N_("A language model gives every possible next token a probability; generating is drawing from them again "
            "and again."),
         N_("In the Next token tab, type the prompt (no space at the end) and read the bars."),
         needs="lm-lee-gpt", link=(("model", "lm-lee-gpt"), ("text", NEXT_PROMPT))),
    Step("evaluating", "pages/evaluate.py", N_("Evaluation: is one model really better?"),
         N_("Two models answer the same held-out texts; a paired test reads only the texts on which they disagree, and "
            "says whether the difference is more than chance."),
         N_("Benchmark sentiment-minilm with TF-IDF + logistic regression as the baseline and read the McNemar p in "
            "its row."),
         needs="sentiment-minilm"),
)  # fmt: skip


@dataclass(frozen=True)
class Question:
    text: Message
    options: tuple[str, ...]
    answer: str  # one of the options
    why: Message  # the live numbers behind the answer
    worded: bool = False  # the options are words to translate (else tokens and numbers, shown as they are)

    def right(self, chosen: str | None) -> bool:
        return chosen == self.answer


def _neighbours(answer: int, low: int, high: int, count: int = 4) -> tuple[str, ...]:
    """``count`` distinct whole numbers in [low, high] around ``answer``, the answer among them, in order."""
    picked = {answer}
    for step in range(1, high - low + 1):
        for candidate in (answer - step, answer + step):
            if low <= candidate <= high and len(picked) < count:
                picked.add(candidate)
    return tuple(str(n) for n in sorted(picked))


def tokens_question(tokenizer, text: str = TOKENS_TEXT) -> Question:
    """How many of the WordPiece tokens of a Chinese sentence are [UNK]."""
    tokens = tokenizer.tokenize(text)
    unknown = sum(token == tokenizer.unk_token for token in tokens)
    return Question(
        text=Message("MiniLM cuts “{text}” into {count} tokens. How many of them are [UNK] (unknown to it)?",
                     text=text, count=len(tokens)),
        options=_neighbours(unknown, 0, len(tokens)), answer=str(unknown),
        why=Message("{unknown} of {count}: {tokens}. MiniLM's English vocabulary has only a few hundred Chinese "
                    "characters; whatever it lacks becomes the same [UNK] token.", unknown=unknown, count=len(tokens),
                    tokens=" ".join(tokens)),
    )  # fmt: skip


def _word(tokens: Sequence[str], index: int) -> str:
    return str(tokens[index])


def attention_question(tokens: Sequence[str], weights: np.ndarray, query: str = "it") -> Question:
    """Which token the query token attends to most in the last head of the last layer (the one the lesson's step sets
    on the Self-attention page, which shows one head at a time). ``weights`` (L, h, T, T)."""
    if query not in tokens:
        raise CoreError(Message("The lesson's sentence has no token “{query}”.", query=query))
    row = weights[-1, -1][list(tokens).index(query)]  # (T,)
    order = [int(i) for i in np.argsort(-row, kind="stable")]
    answer = _word(tokens, order[0])
    picked: list[int] = []  # the four most attended tokens and the sentence's nouns, in the sentence's order
    for index in [*order[:4], *[i for i, t in enumerate(tokens) if t in ("animal", "street", "tired")]]:
        if _word(tokens, index) not in [_word(tokens, i) for i in picked] and len(picked) < 6:
            picked.append(index)
    return Question(
        text=Message("In MiniLM's last layer (layer {layer}), head {head}, which token does “{query}” attend to most in "
                     "“{text}”?", layer=weights.shape[0] - 1, head=weights.shape[1] - 1, query=query, text=ATTENTION_TEXT),
        options=tuple(_word(tokens, i) for i in sorted(picked)), answer=answer,
        why=Message("“{answer}” gets {share} of its attention; the next are {others}. [CLS] and [SEP] often take a large "
                    "share of a head's weight as places to put attention that changes little, so a large weight alone "
                    "does not show that a token is used: attention is not an explanation by itself.",
                    answer=answer, share=f"{100 * row[order[0]]:.0f} %",
                    others=", ".join(f"{_word(tokens, i)} {100 * row[i]:.0f} %" for i in order[1:3])),
    )  # fmt: skip


def previous_token_shares(weights: np.ndarray) -> np.ndarray:
    """(L, h): each head's mean attention from every token to the one just before it."""
    count = weights.shape[-1]
    rows, cols = np.arange(1, count), np.arange(0, count - 1)
    return weights[..., rows, cols].mean(axis=-1)


def heads_question(weights: np.ndarray) -> Question:
    """Which head of the layer with the clearest previous-token head looks one token back the most; layers and heads
    counted from 0, as the Multi-head page counts them."""
    shares = previous_token_shares(weights)
    layer = int(shares.max(axis=1).argmax())
    head = int(shares[layer].argmax())
    return Question(
        text=Message("In layer {layer} of MiniLM (counted from 0, as on the page), which head gives the most attention "
                     "to the token just before each token, averaged over “{text}”?", layer=layer, text=HEADS_TEXT),
        options=tuple(str(h) for h in range(shares.shape[1])), answer=str(head),
        why=Message("Head {head}: {share} of each token's attention goes one token back (the layer's other heads: at "
                    "most {second}). Looking one token back is one of the simplest jobs a head learns.", head=head,
                    share=f"{100 * shares[layer, head]:.0f} %", second=f"{100 * np.sort(shares[layer])[-2]:.0f} %"),
    )  # fmt: skip


def positions_question(encoding: np.ndarray, position: int = 10) -> Question:
    """Which other position's code is most similar (dot product) to ``position``'s. ``encoding`` (positions, d)."""
    scores = encoding @ encoding[position]
    scores[position] = -np.inf
    before, after = scores[position - 1], scores[position + 1]
    best = int(np.argmax(scores))
    tied = bool(np.isclose(before, after, rtol=0, atol=1e-9)) and best in (position - 1, position + 1)
    answer = N_("both the same") if tied else str(best)
    options = [str(position - 1), str(position + 1), N_("both the same"), "0"]
    if answer not in options:
        options[-1] = answer
    return Question(
        text=Message("With the paper's sinusoids (d_model = {d}), which position's encoding has the largest dot "
                     "product with position {position}'s?", d=encoding.shape[1], position=position),
        options=tuple(options), answer=answer, worded=True,
        why=Message("Positions {before} and {after} score {first} and {second}: the dot product of two sinusoidal "
                    "codes depends only on how far apart they are, not on the direction.", before=position - 1,
                    after=position + 1, first=f"{float(before):.4f}", second=f"{float(after):.4f}"),
    )  # fmt: skip


def training_question(card: Mapping) -> Question:
    """Which 10-point band the model's held-out accuracy falls in, read from its model card. The bands are
    half-open (80 % ≤ a < 90 %) and where the answer sits among them follows the accuracy, not a rule."""
    accuracy = card.get("metrics", {}).get("accuracy")
    if not accuracy or "n" not in accuracy:
        raise CoreError(Message("The model card has no held-out accuracy yet."))
    value = 100 * float(accuracy["value"])
    band = min(9, int(value // 10))
    first = min(band - band % 4, 6)
    shown = {b: f"{10 * b} % ≤ a < {10 * b + 10} %" if b < 9 else "90 % ≤ a ≤ 100 %" for b in range(first, first + 4)}
    return Question(
        text=Message("What held-out accuracy a did the default sentiment model (MiniLM fine-tuned here) reach?"),
        options=tuple(shown.values()), answer=shown[band],
        why=Message("{value} % on {n} held-out sentences, 95 % CI {low}–{high} %: with so few sentences the interval "
                    "is wide.", value=f"{value:.0f}", n=accuracy["n"], low=f"{100 * accuracy['low']:.0f}",
                    high=f"{100 * accuracy['high']:.0f}"),
    )  # fmt: skip


def patching_question(layers: Sequence[str], recovered: np.ndarray, changed: int, threshold: float = 0.5) -> Question:
    """After which block the changed word's position alone first restores less than ``threshold`` of the clean
    answer's lead: where the deciding information has begun to spread to other positions."""
    below = [i for i in range(1, len(layers)) if recovered[i, changed] < threshold]
    if not below:
        raise CoreError(Message("In this model the changed word alone restores the answer after every block; the "
                                "question does not apply."))  # fmt: skip
    answer = layers[below[0]]
    column = ", ".join(f"{recovered[i, changed]:.2f}" for i in range(len(layers)))
    return Question(
        text=Message("Patching “{clean}” into “{corrupted}”: after which block does the changed word's position alone "
                     "first restore less than half of the clean answer's lead?", clean=PATCH_TEXTS[0],
                     corrupted=PATCH_TEXTS[1]),
        options=tuple(layers[1:]), answer=answer, worded=True,
        why=Message("The changed word's column, from the embeddings to the last block: {column}. Block by block the "
                    "information spreads to other positions; after the last block [CLS] alone restores it all ({last}), "
                    "because the classifier reads [CLS] only.", column=column,
                    last=f"{recovered[-1, 0]:.2f}"),
    )  # fmt: skip


def next_token_question(top: Sequence[Mapping], prompt: str = NEXT_PROMPT) -> Question:
    """Which of the model's four most likely next tokens (distinct as written) it ranks first; the options in
    alphabetical order."""
    entries: list[tuple[str, Mapping]] = []
    for entry in top:  # two ids can decode to the same text: keep the more likely one
        token = str(entry["token"]).replace(" ", "␣")  # a leading space is part of the token
        if token not in [t for t, _ in entries]:
            entries.append((token, entry))
    if len(entries) < 4:
        raise CoreError(Message("The model gave fewer than four distinct next tokens."))
    entries = entries[:4]
    return Question(
        text=Message("The news GPT reads “{prompt}”. Which of these four tokens does it think most likely to come "
                     "next?", prompt=prompt),
        options=tuple(sorted((t for t, _ in entries), key=lambda token: token.strip("␣").lower())),
        answer=entries[0][0],
        why=Message("{ranking}. Tokens are often pieces of words (␣ marks a leading space): a piece such as “␣A” can be "
                    "the start of a name the news mentions after these words.",
                    ranking=" > ".join(f"“{t}” {100 * float(e['probability']):.0f} %" for t, e in entries)),
    )  # fmt: skip


def padding_question(walk) -> Question:
    """What share of the cross-attention goes to the padding tokens of the source (a core.transformer.walkthrough
    result): the masked keys get exactly none, whatever the random weights."""
    padding = [i for i, token in enumerate(walk.source_tokens) if token == "<pad>"]
    if not padding:
        raise CoreError(Message("The example has no padding token; the question does not apply."))
    share = float(walk.cross_weights[..., padding].sum(axis=-1).max())  # the most any head gives them, any target
    uniform = len(padding) / len(walk.source_tokens)
    answer = f"{100 * share:.0f} %"
    options = tuple(dict.fromkeys([f"{100 * uniform:.0f} %", answer, "100 %", "50 %"]))  # the answer not always first
    return Question(
        text=Message("The source “{source}” ends with {count} padding tokens. At most how much of a target position's "
                     "cross-attention, in any head, goes to them?", source=WALK[0], count=len(padding)),
        options=options, answer=answer,
        why=Message("{share}: a padding key's score is set to −∞ before the softmax, so its weight is exactly 0 (the "
                    "largest measured here is {largest}). Without the mask, an even spread would give them {uniform}.",
                    share=answer, largest=f"{share:.1e}", uniform=f"{100 * uniform:.0f} %"),
    )  # fmt: skip


def translation_question(result) -> Question:
    """Which source token the first output token of a translation reads most (its cross-attention row, last decoder
    layer, mean of heads: the map the Translate page draws)."""
    if result.alignment is None or not len(result.alignment):
        raise CoreError(Message("This translation model gives no cross-attention; the question does not apply."))
    row = result.alignment[0]
    order = [int(i) for i in np.argsort(-row, kind="stable")]
    tokens = list(result.source_tokens)
    picked: list[str] = []
    for index in order:
        if tokens[index] not in picked and len(picked) < 4:
            picked.append(tokens[index])
    answer = tokens[order[0]]
    return Question(
        text=Message("The model translates “{text}” into “{translation}”. When it writes its first token “{token}”, "
                     "which source token does its cross-attention (last layer, mean of heads) weigh most?",
                     text=result.source, translation=result.text, token=result.target_tokens[0]),
        options=tuple(sorted(picked, key=str.lower)), answer=answer,
        why=Message("“{answer}” gets {share} of that row; the next are {others}. The decoder looks back at the source "
                    "through these weights as it writes each token.", answer=answer, share=f"{100 * row[order[0]]:.0f} %",
                    others=", ".join(f"{tokens[i]} {100 * row[i]:.0f} %" for i in order[1:3])),
    )  # fmt: skip


BETTER_MODEL, BETTER_BASELINE, NO_DIFFERENCE = (N_("MiniLM, significantly"), N_("TF-IDF + LR, significantly"),
                                                N_("neither: the test cannot tell them apart (p ≥ 0.05)"))  # fmt: skip


def evaluation_question(truth: Sequence[str], model: Sequence[str], baseline: Sequence[str]) -> Question:
    """Whether McNemar's exact test — the Benchmark page's paired test for accuracy — finds the fine-tuned MiniLM
    (``model``'s answers) and TF-IDF + logistic regression (``baseline``'s) different on the same held-out texts, at
    p < 0.05."""
    from core.stats import mcnemar

    right_model = [a == t for a, t in zip(model, truth, strict=True)]
    right_baseline = [a == t for a, t in zip(baseline, truth, strict=True)]
    test = mcnemar(right_model, right_baseline)
    if test["p_value"] >= 0.05:
        answer = NO_DIFFERENCE
    else:
        answer = BETTER_MODEL if sum(right_model) > sum(right_baseline) else BETTER_BASELINE
    return Question(
        text=Message("On the {n} held-out sentences, MiniLM fine-tuned here gets {model} right and TF-IDF + logistic "
                     "regression {baseline}. Which is better, by McNemar's exact test at p < 0.05?", n=len(truth),
                     model=sum(right_model), baseline=sum(right_baseline)),
        options=(BETTER_MODEL, BETTER_BASELINE, NO_DIFFERENCE), answer=answer, worded=True,
        why=Message("Only MiniLM is right on {only_model} sentences, only TF-IDF on {only_baseline}; the test reads these "
                    "{count} alone (on the others both are right or both wrong) and gives p = {p}. With few texts a "
                    "large gap can still be chance: the test, not the gap, decides.", only_model=test["only_a"],
                    only_baseline=test["only_b"], count=test["only_a"] + test["only_b"], p=f"{test['p_value']:.4f}"),
    )  # fmt: skip
