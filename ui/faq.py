"""The FAQ page glue: the article's five questions, its answers as printed, and what LM Lab measured here."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import faq
from core.viz import charts
from core.viz import faq as figures
from ui import i18n, render, safe
from ui.i18n import N_, _
from ui.train import curve_words


def _ci(estimate: dict | None) -> str:
    if not estimate:
        return "–"
    return f"{100 * estimate['value']:.1f} % [{100 * estimate['low']:.1f}, {100 * estimate['high']:.1f}]"


# the task keys the charts name their traces by (render.figure translates them): the Chinese reviews' task too
TASK_NAMES = (N_("sentiment"), N_("topic"), N_("sentiment-zh"))


def _nothing_yet() -> None:
    st.info(_("No model has been trained on this machine yet: the answer fills in as models are trained (the Train "
              "page, or python -m core.train --all)."))  # fmt: skip


def _by_held_out_data(rows: list[dict]) -> dict[str, list[dict]]:
    """The models in groups scored on the same held-out texts (their split's fingerprint: a task's accuracies on other
    texts are not comparable — the keyword model's generated one-cue sentences are no film reviews), named by their
    task, and by their data too where a task has more than one group."""
    keys: dict[str, set] = {}
    for row in rows:
        keys.setdefault(row["task"], set()).add(row["held_out"])
    groups: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["task"], r["dataset"], r["held_out"])):
        name = _(row["task"])
        if len(keys[row["task"]]) > 1:
            name = _("{task} · {dataset}", task=name, dataset=_short(_(row["dataset"])) or row["held_out"][:8])
        while name in groups and groups[name][0]["held_out"] != row["held_out"]:  # same name, other texts
            name += f" ({row['held_out'][:6]})"
        groups.setdefault(name, []).append(row)
    return groups


def _short(name: str, most: int = 40) -> str:
    """A dataset's name fit for a legend: no control or direction-changing characters (a student's column names are
    in an upload's name), cut to ``most`` characters."""
    import unicodedata

    plain = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    return plain if len(plain) <= most else plain[: most - 1] + "…"


def _choose(cards: list[dict]) -> None:
    rows = [card for card in cards if card["accuracy"] and card["parameters"] and not card["demonstration"]]
    if not rows:
        _nothing_yet()
        return
    groups = _by_held_out_data(rows)
    render.figure(figures.accuracy_vs_size(groups), key="faq-size")
    fronts = {name: [row["key"] for row in figures.pareto_front(group)] for name, group in groups.items()}
    st.caption(_("Each point is a classifier trained here: its held-out accuracy (95 % CI) against its parameter "
                 "count, one colour per group of models scored on the same held-out texts. The dashed line joins each "
                 "group's Pareto front, the models no other one of the group matches or beats on both size and "
                 "accuracy while beating on one, by point estimates ({front}): choose among those for a classroom "
                 "server; overlapping intervals alone cannot rank two models. The benchmark adds latency, memory and a "
                 "paired test on the same texts, and draws the same front against latency.",
                 front="; ".join(f"{safe.md(name)}: " + ", ".join(f"`{key}`" for key in keys)
                                 for name, keys in fronts.items())))  # fmt: skip
    st.page_link("pages/evaluate.py", label=_("The front against latency, on the Evaluate page"),
                 icon=":material/leaderboard:")  # fmt: skip


def _train(cards: list[dict]) -> None:
    if not cards:
        _nothing_yet()
        return
    safe.table(pd.DataFrame([{_("model"): c["key"], _("parameters"): i18n.number(c["parameters"]) if c["parameters"] else "–",
                              _("training time (s)"): round(c["train_seconds"], 1) if c["train_seconds"] else "–",
                              _("device"): c["device"],
                              _("numeric precision"): c["precision"],
                              _("epochs run"): "–" if c["epochs"] is None else f"{c['epochs']:.3g}"} for c in cards]),
               hide_index=True)  # fmt: skip
    st.caption(_("What each run here cost. Training in mixed precision (bf16 or fp16) is what LM Lab does on a CUDA "
                 "GPU; on Apple's MPS it trains in fp32, and on a CPU in fp32, or in bf16 where LMLAB_TRAIN_PRECISION=bf16 asks for it, the CPU "
                 "computes bf16 in hardware (Intel AMX or AVX-512 BF16, as Linux reports them) and the run's maximum "
                 "length is at most 128 tokens. Distributed training splits one run over many GPUs — "
                 "beyond a classroom server. The Compute page predicts a run's time from its FLOPs: per token, "
                 "6 × the weights outside the token and position tables, plus attention, plus the output layer for a "
                 "language model; times the tokens, at this machine's measured throughput. The parameters above count "
                 "the embedding tables too, so 6 × parameters × tokens overstates a classifier's cost (its word table "
                 "is much of its size); for the small language models here the two agree within a few percent."))  # fmt: skip


def _evaluate(cards: list[dict]) -> None:
    usable = [c for c in cards if c["confusion"] and not c["demonstration"]]
    if not usable:
        _nothing_yet()
        return
    card = next((c for c in usable if c["key"] == "sentiment-minilm"), usable[0])
    confusion, labels = card["confusion"]
    st.session_state.setdefault("faq-prior", 90)  # set before the slider: it takes no default
    share = st.slider(_("Share of the test texts in the class “{label}”", label=safe.md(_(labels[0]))), 50, 95, step=5,
                      key="faq-prior", format="%d %%")  # fmt: skip
    others = (100 - share) / (len(labels) - 1)
    prior = [share] + [others] * (len(labels) - 1)
    found = faq.under_prior(confusion, prior)
    ci = _prior_ci(tuple(map(tuple, confusion)), tuple(prior))

    def shown(name: str) -> str:
        return f"{100 * found[name]:.1f} % [{100 * ci[name][0]:.1f}, {100 * ci[name][1]:.1f}]"

    safe.table(pd.DataFrame([
        {_("model"): card["key"], _("accuracy"): shown("accuracy"), _("macro-F1"): shown("macro_f1")},
        {_("model"): _("always the largest class"), _("accuracy"): f"{100 * found['majority_accuracy']:.1f} %",
         _("macro-F1"): f"{100 * found['majority_macro_f1']:.1f} %"},
    ]), hide_index=True)  # fmt: skip
    st.caption(_("What {model} would score if each class kept the recall it had on its {n} held-out texts and only "
                 "the shares of the classes changed; in brackets a 95 % interval for how uncertain those recalls are "
                 "(they are estimates from few texts; each class's row drawn from its Jeffreys posterior). When one class dominates, a model that always answers it reaches high accuracy and learns "
                 "nothing; macro-F1, the mean of the classes' F1, shows it.", model=card["key"],
                 n=int(sum(map(sum, confusion)))))  # fmt: skip


@st.cache_data(max_entries=64, show_spinner=False)  # a slider's ten positions per model, shared by the class
def _prior_ci(confusion: tuple, prior: tuple) -> dict:
    return faq.under_prior_ci([list(row) for row in confusion], list(prior))


def _overfit(cards: list[dict]) -> None:
    pairs = faq.remedy_pairs(cards)
    if pairs:
        _remedy_pair(*pairs[0])
        _remedies_caption()
        return
    runs = [c for c in cards if c["eval_curve"] and not c["demonstration"]]
    runs = sorted(runs, key=lambda c: (not c["overfitting"], not c["stopped_early"]))[:3]
    if runs:
        render.figure(charts.training_curves({c["key"]: c for c in runs}, title=_("Loss during training"),
                                             **curve_words()), key="faq-curves")  # fmt: skip
        st.caption(_("For a before and after, train the same run again on the Train page with one remedy changed "
                     "(early stopping, dropout, weight decay, augmentation, epochs): this answer then shows the two "
                     "side by side."))  # fmt: skip
    else:
        st.info(_("No run here has validation curves yet. On the Train page keep a validation share and train twice "
                  "on the same data: once for many epochs, once with early stopping; then compare the curves here."))  # fmt: skip
    _remedies_caption()


def _remedy_pair(before: dict, after: dict, changed: list[str]) -> None:
    """Two real runs on the same data whose remedies differ: their curves together and their held-out accuracy."""
    render.figure(charts.training_curves({before["key"]: before, after["key"]: after}, title=_("Loss during training"),
                                         **curve_words()), key="faq-curves")  # fmt: skip
    what = ", ".join(f"{name} {before['remedies'].get(name)} → {after['remedies'].get(name)}" for name in changed)
    safe.table(pd.DataFrame([{_("model"): card["key"], _("held-out accuracy"): _ci(card["accuracy"]),
                              _("overfitting flagged"): _("yes") if card["overfitting"] else _("no"),
                              _("stopped early"): _("yes") if card["stopped_early"] else _("no")}
                             for card in (before, after)]), hide_index=True)  # fmt: skip
    st.caption(_("Before and after, from two runs trained here with the same data, starting point and every other "
                 "setting; what changed: {what}. Whether their intervals overlap is no test of a difference: the "
                 "Evaluate page compares the two runs paired, on the same held-out texts.",
                 what=f"`{what}`"))  # fmt: skip


def _remedies_caption() -> None:
    st.caption(_("LM Lab's Train page offers the article's remedies: early stopping (the best epoch is kept), dropout, "
                 "weight decay — AdamW's, applied to the weights directly; close to L2 regularization but not the same "
                 "under Adam — and data augmentation (word dropout, word swap). L1 regularization is rarely used for "
                 "Transformers."))  # fmt: skip


def _improve(cards: list[dict]) -> None:
    pairs = faq.pretraining_pairs(cards)
    if not pairs:
        st.info(_("Train a pretrained model and its from-scratch twin (for example sentiment-minilm and "
                  "sentiment-tiny) to see what the starting weights buy."))  # fmt: skip
        return
    render.figure(figures.pretraining_bars(pairs), key="faq-pretraining")
    safe.table(pd.DataFrame([{_("pretrained"): a["key"], _("accuracy (pretrained)"): _ci(a["accuracy"]),
                              _("parameters (pretrained)"): a["parameters"], _("from random weights"): b["key"],
                              _("accuracy (random weights)"): _ci(b["accuracy"]),
                              _("parameters (random weights)"): b["parameters"]} for a, b in pairs]),
               hide_index=True)  # fmt: skip
    if any(a["key"] == "sentiment-zh-bert" for a, _b in pairs):
        st.caption(_("The article lists depth, width, optimizers and initialization. Here the starting point is "
                     "measured: each pair learns the same task from the same data, once from pretrained weights and "
                     "once from random ones. Only the Chinese pair has the same architecture; the English tiny models "
                     "are also much smaller, so their gap mixes both."))  # fmt: skip
    else:
        st.caption(_("The article lists depth, width, optimizers and initialization. Here the starting point is "
                     "measured: each pair learns the same task from the same data, once from pretrained weights and "
                     "once from random ones. The English tiny models are also much smaller than MiniLM, so their gap "
                     "mixes the starting point with the size; the Chinese pair (sentiment-zh-bert and "
                     "sentiment-zh-scratch, once trained here) shares one architecture and separates the two."))  # fmt: skip


ANSWERS = {"choose": _choose, "train": _train, "evaluate": _evaluate, "overfit": _overfit, "improve": _improve}


def page() -> None:
    cards = faq.trained_cards()
    chinese = i18n.language() == "zh"
    for question in faq.QUESTIONS:
        st.subheader(question.asked if chinese else f"{_(question.title)} ({question.asked})")
        st.markdown(_("The article's answer:") + f"\n\n> {question.answer}")
        measured = _("Measured here")
        st.markdown(f"**{measured}**")
        ANSWERS[question.key](cards)
        st.page_link(question.page, label=_(question.page_title), icon=":material/open_in_new:")
