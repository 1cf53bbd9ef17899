"""Challenges → Privacy glue: the membership-inference attack on a model trained here, and personal data in text."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import catalog
from core.errors import CoreError
from core.specs import DEMONSTRATIONS
from core.tasks.base import CLASSIFICATION, own_dataset, tasks
from core.training import privacy, privacy_code
from core.viz import privacy as figures
from ui import i18n, models, render, safe
from ui.i18n import N_, _, pgettext

KINDS = {"e-mail": N_("e-mail"), "URL": N_("URL"), "Chinese ID": N_("Chinese ID"), "phone": N_("phone")}
LANGUAGE_MODELS = ("generation", "generation-zh")


def _tag(kind: str) -> str:
    """A mask tag and, where the session's language names the kind in other words, that name: "[phone] 电话"."""
    name = _(KINDS[kind])
    return f"[{kind}]" if name == kind else f"[{kind}] {name}"


def _attackable() -> dict[str, catalog.ModelSpec]:
    """Finished models trained here whose training texts LM Lab can list: classifiers and language models."""
    families = {name for name, task in tasks().items() if task.family == CLASSIFICATION}
    found = {}
    for spec in catalog.all_specs():
        if not (spec.trained_here and (spec.task in families or spec.task in LANGUAGE_MODELS)
                and spec.key not in DEMONSTRATIONS and catalog.availability(spec).ready):  # fmt: skip
            continue
        # a classifier trained on a named dataset: its training texts can be listed (not an upload's or the Hub's)
        if spec.task in LANGUAGE_MODELS or own_dataset(spec) is not None:
            found[spec.key] = spec
    return found


@st.cache_data(max_entries=16, show_spinner=False)
def _run_attack(key: str, fingerprint: str) -> privacy.Attack:  # one attack per model version, for the class
    """The attack on the model at ``fingerprint``; the model is loaded only when the attack is not cached yet (a
    click on an attack the class already ran loads nothing, so it evicts nobody's model)."""
    spec = catalog.get_spec(key)
    if spec.task in LANGUAGE_MODELS:
        model = models.task_model_quietly(spec, fingerprint)
        members, others = privacy.lm_documents(spec)
        return privacy.attack(privacy.lm_losses(model, members), privacy.lm_losses(model, others))
    members, others = privacy.classifier_texts(spec)
    classify = models.predictor_quietly(spec, fingerprint).predict_batch
    return privacy.attack(privacy.classifier_losses(classify, members), privacy.classifier_losses(classify, others))


def _partial_pass_note(key: str) -> None:
    """A model trained for less than one pass over its data never read part of the texts counted as members."""
    card = catalog.read_metadata(key)
    epochs = card.recipe.get("epochs") if card else None
    if not isinstance(epochs, int | float) or not 0 < epochs < 1:
        return
    if catalog.get_spec(key).task.startswith("generation"):  # a language model reads blocks cut from all its text
        st.warning(_("This model trained for {epochs} of a pass over its training text, read in blocks of {block} "
                     "tokens: about {unseen} % of that text was never read, so part of each training text's loss is on "
                     "text the model never saw, and its AUC understates what it leaks.", epochs=f"{epochs:.2g}",
                     block=card.recipe.get("max_length", "?"), unseen=round(100 * (1 - epochs))))  # fmt: skip
    else:  # a classifier reads whole texts in a random order: the share never read is the share of a pass left
        st.warning(_("This model trained for {epochs} of a pass over its training split: about {unseen} % of the "
                     "training texts attacked here were never read by it, so its AUC understates what it leaks.",
                     epochs=f"{epochs:.2g}", unseen=round(100 * (1 - epochs))))  # fmt: skip


def attack_panel() -> None:
    specs = _attackable()
    if not specs:
        st.info(_("No model has been trained here yet: train one on the Train page, then attack it here."))
        return
    titles = {key: i18n.title(spec) for key, spec in specs.items()}
    key = st.selectbox(_("Model trained here"), list(specs), key="privacy-model", format_func=titles.get)
    st.caption(_("The attacker asks the model for its loss on up to {most} texts of its training split and up to "
                 "{most} held-out texts (every k-th one, the fewest k that keeps to {most}) and calls a text a member "
                 "when its loss is low.", most=privacy.MAX_TEXTS))  # fmt: skip
    _partial_pass_note(key)
    if st.button(_("Run the attack"), key="privacy-run", type="primary"):
        try:
            with st.spinner(render.queue_note(_("Asking the model about up to {count} texts…",
                                                count=2 * privacy.MAX_TEXTS))):  # fmt: skip
                fingerprint = catalog.weights_sha256(specs[key])  # read once: the attack and its label use the same
                st.session_state["privacy-result"] = (key, fingerprint, _run_attack(key, fingerprint))
        except CoreError as error:
            safe.error(error)
            return
    stored = st.session_state.get("privacy-result")
    if not stored or stored[0] != key or stored[1] != catalog.weights_sha256(specs[key]):  # a retrained model: ask again
        return
    found: privacy.Attack = stored[2]
    first, second, third = st.columns(3)
    first.metric(_("Attack AUC"), f"{found.auc:.3f}", help=_("95 % bootstrap CI: [{low}, {high}]. 0.5 is guessing.",
                                                              low=f"{found.auc_low:.3f}", high=f"{found.auc_high:.3f}"))  # fmt: skip
    second.metric(_("Advantage"), f"{100 * found.advantage:.1f} %",
                  delta=_("chance: up to {chance} %", chance=f"{100 * found.chance_advantage:.1f}"), delta_color="off",
                  help=_("The largest (share of training texts found) − (share of held-out texts wrongly called members) "
                         "over all loss thresholds. The threshold is chosen knowing the answers, so even a model that "
                         "leaks nothing shows some advantage, usually (19 times in 20) up to the 'chance' figure: 95 % of "
                         "random labellings of "
                         "the same losses stay below it."))  # fmt: skip
    third.metric(_("Mean loss: training / held-out"), f"{found.member_losses.mean():.2f} / {found.other_losses.mean():.2f}",
                 help=_("Asked: {members} training texts and {others} held-out texts.", members=len(found.member_losses),
                        others=len(found.other_losses)))  # fmt: skip
    st.caption(_("95 % CI of the AUC: {low} to {high}. A model that memorised its training texts gives them a lower "
                 "loss than texts it never saw, and the attack finds them; the overfitting remedies of the Train page "
                 "(more data, early stopping, dropout, weight decay) can narrow the gap, and training with differential "
                 "privacy (DP-SGD) bounds it.",
                 low=f"{found.auc_low:.3f}", high=f"{found.auc_high:.3f}"))  # fmt: skip
    left, right = st.columns(2)
    with left:
        render.figure(figures.roc(found.fpr, found.tpr, found.auc), key="privacy-roc")
    with right:
        render.figure(figures.losses(found.member_losses, found.other_losses), key="privacy-losses")
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(privacy_code.membership(specs[key], specs[key].task in LANGUAGE_MODELS), language="python")
    _compare(specs, key, found)


# other models attacked beside the first, per click: each attack asks up to 2 × MAX_TEXTS texts, and with the first
# they stay within the 3 classifiers the server keeps loaded
MAX_COMPARED = 2


def _compare(specs: dict[str, catalog.ModelSpec], key: str, found: privacy.Attack) -> None:
    """The same attack on other models side by side: the overfit (a small model from scratch, many epochs) against
    the regularised (pretrained, early stopping), one ROC curve each."""
    st.markdown("##### " + _("Side by side: which models leak more"))
    others = [k for k in specs if k != key]
    if not others:
        st.caption(_("Train another model to compare: the Train page's overfitting remedies should narrow the gap."))
        return
    titles = {k: i18n.title(spec) for k, spec in specs.items()}
    chosen = st.multiselect(_("Attack these too (at most {most})", most=MAX_COMPARED), others, placeholder=_("Choose options"), key="privacy-compare",
                            format_func=titles.get, max_selections=MAX_COMPARED)  # fmt: skip
    if chosen and st.button(_("Run the attack on them"), key="privacy-compare-run"):
        try:
            with st.spinner(render.queue_note(_("Asking {count} models…", count=len(chosen)))):
                fingerprints = {k: catalog.weights_sha256(specs[k]) for k in chosen}
                st.session_state["privacy-compared"] = {k: (fingerprints[k], _run_attack(k, fingerprints[k]))
                                                        for k in chosen}  # fmt: skip
        except CoreError as error:
            safe.error(error)
            return
    compared = {k: attack for k, (fingerprint, attack) in (st.session_state.get("privacy-compared") or {}).items()
                if k in specs and k != key and fingerprint == catalog.weights_sha256(specs[k])}  # fmt: skip
    if not compared:
        return
    attacks = {key: found, **compared}  # by key: two runs may share a title
    render.figure(figures.rocs({f"{titles[k]} ({k})": (a.fpr, a.tpr, a.auc) for k, a in attacks.items()}),
                  key="privacy-rocs")  # fmt: skip
    rows = [{_("model"): f"{titles[name]} ({name})", _("attack AUC [95 % CI]"): f"{a.auc:.3f} [{a.auc_low:.3f}, {a.auc_high:.3f}]",
             _("advantage (chance up to)"): f"{100 * a.advantage:.1f} % ({100 * a.chance_advantage:.1f} %)",
             _("mean loss: training / held-out"): f"{a.member_losses.mean():.2f} / {a.other_losses.mean():.2f}"}
            for name, a in attacks.items()]  # fmt: skip
    safe.table(pd.DataFrame(rows), hide_index=True, key="privacy-compare-table")
    st.caption(_("Each model is attacked on its own training and held-out texts. A model with a wide gap between the "
                 "two losses (many epochs on few texts, from random weights) leaks more than one that generalises "
                 "(pretrained, stopped early): overlapping AUC intervals are no test of a difference between two."))  # fmt: skip
    st.page_link("pages/train.py", label=_("Try the overfitting remedies on the Train page"), icon=":material/tune:")


def pii_panel() -> None:
    st.session_state.setdefault("privacy-text", _("Write to zhang.san@example.com or call +86 138 1234 5678; "
                                                  "ID 11010519491231002X; see https://example.com/profile."))  # fmt: skip
    text = st.text_area(_("Text (at most {most} characters)", most=i18n.number(privacy.MAX_PII_CHARS)), key="privacy-text",
                        height=140, max_chars=privacy.MAX_PII_CHARS)  # fmt: skip
    try:
        found = privacy.find_pii(text)
    except CoreError as error:
        safe.error(error)
        return
    if not found:
        st.info(_("No e-mail address, URL, phone number or Chinese ID number found."))
        return
    safe.table(pd.DataFrame([{_("kind"): _(KINDS[item.kind]), _("found"): item.text,
                              _("position"): f"{item.start}–{item.end}"} for item in found]), hide_index=True)  # fmt: skip
    st.markdown(_("**Masked** (what a training run should read instead):"))
    st.text(privacy.mask(text, found))  # shown as text: it came from a user
    kinds = dict.fromkeys(item.kind for item in found)  # the kinds found, in order of first appearance
    st.caption(_("Each piece of personal data becomes its kind in brackets ({tags}). The tags are the same in every "
                 "interface language: an upload masked in one session is the same text for a run started in another.",
                 tags=pgettext("list separator", ", ").join(_tag(kind) for kind in kinds)))  # fmt: skip
    with st.expander(_("Code to reproduce this"), icon=":material/code:"):
        st.code(privacy_code.personal_data(text), language="python")
    st.caption(_("Found by patterns: URLs; e-mail addresses; phone numbers in Chinese mobile (1[3-9] and 9 digits) "
                 "and landline (0 area code - 7 or 8 digits) and North American formats, with an optional +country "
                 "code, and any number written with + and its country code (7 to 15 digits, grouped or not: +44 20 7946 "
                 "0958); 18-character Chinese resident ID numbers whose check digit is right (GB 11643-1999). Patterns "
                 "miss what they were not written for (a name, an address, a phone number written in words, another "
                 "country's number written without its +country code) and flag look-alikes (any 3-3-4 group of digits; about one random 18-digit number in 11 has "
                 "a right check digit)."))  # fmt: skip


CANARY, CONTROL = "lm-lee-canary", "lm-lee-gpt"


@st.cache_data(max_entries=4, show_spinner=False)
def _exposure(key: str, fingerprint: str) -> privacy.Exposure:  # once per model version, for the class
    return privacy.canary_exposure(models.task_model_quietly(catalog.get_spec(key), fingerprint))


def canary_panel() -> None:
    from core.data.corpora import CANARY_COPIES, CANARY_DIGITS, CANARY_SECRET, canary_sentence
    from ui import scenario

    st.markdown(_("A made-up secret, “{sentence}”, was planted {copies} times among the training articles of a "
                  "separate news GPT, trained from scratch with the same recipe on the same articles (and the same "
                  "tokenizer, learnt from the articles alone). The test scores every sentence of the same form — all "
                  "{count} codes of four digits from 1 to 9 — and asks where the secret ranks: a model that "
                  "memorised it finds it the likeliest. Exposure = log₂ {count} − log₂ rank, in bits: 12.7 at rank "
                  "1; a secret drawn at random gets 1.44 bits on average from a model that never saw it (the news "
                  "GPT trained without it is measured alongside).", sentence=canary_sentence(), copies=CANARY_COPIES,
                  count=i18n.number(len(CANARY_DIGITS) ** 4)))  # fmt: skip
    if not scenario.when_asked(_("Measure the exposure"), key="privacy-canary-run"):
        return
    specs = [catalog.get_spec(key) for key in (CANARY, CONTROL)]
    ready = scenario.ready_or_training(specs, fallback=N_("the other tabs"))
    stored = st.session_state.setdefault("privacy-canary", {})
    for spec, is_ready in zip(specs, ready, strict=True):
        fingerprint = catalog.weights_sha256(spec)
        if not is_ready or stored.get(spec.key, (None,))[0] == fingerprint:
            continue
        try:  # once per model version for the class (cached), once per session here
            with st.spinner(render.queue_note(_("Scoring every candidate sentence with {model}…", model=safe.md(spec.key)))):
                stored[spec.key] = (fingerprint, _exposure(spec.key, fingerprint))
        except CoreError as error:
            safe.error(error)
            return
    found = {key: value for key, (fingerprint, value) in stored.items()
             if fingerprint == catalog.weights_sha256(catalog.get_spec(key))}  # fmt: skip
    if not found:
        return
    safe.table(pd.DataFrame([{_("model"): key, _("rank of the secret"): f"{i18n.number(e.rank)} / {i18n.number(e.candidates)}",
                              _("exposure (bits)"): round(e.exposure, 1),
                              _("likeliest codes"): ", ".join(code for code, _nll in e.likeliest)}
                             for key, e in found.items()]), hide_index=True)  # fmt: skip
    for key, found_exposure in found.items():
        render.figure(figures.canary(found_exposure.counts, found_exposure.edges, found_exposure.secret_nll,
                                     _("{model}: every code's sentence, the secret “{secret}” in red", model=key,
                                       secret=CANARY_SECRET)), key=f"privacy-canary-{key}")  # fmt: skip
    st.caption(_("Exposure tests memorisation of one string, which a loss-threshold attack on whole documents can "
                 "miss: a secret seen a few times can come back whole. Deduplicating the training text lowers it, and "
                 "so does removing what a personal-data detector finds (this secret is no pattern the first tab "
                 "knows). Training with differential privacy (DP-SGD) bounds what one example can reveal; ten "
                 "copies of one secret get only a weaker, group guarantee."))  # fmt: skip
