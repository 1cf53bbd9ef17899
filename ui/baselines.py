"""The Sentiment page's baselines beside its models: TF-IDF + logistic regression and the majority class, fitted here
on the training split of the task's dataset (once per server, for the class) and scored on its held-out split."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core import catalog
from core.catalog import ModelSpec
from core.tasks.base import dataset_split, tasks
from core.tasks.classify import PROBABILITY, ClassificationResult
from core.tasks.inputs import check_text
from ui.i18n import N_

TITLES = {"baseline:tfidf-lr": N_("TF-IDF + logistic regression (baseline)"),
          "baseline:majority": N_("Majority class (baseline)")}  # fmt: skip
# the training split's classes are equally common (the English polarity sentences: 75 and 75): no class is the majority
TIED = N_("No majority class, a tie: always the first label (baseline)")


def available(task_name: str) -> list[str]:
    """The baselines this page shows for a task: those the task lists that LM Lab fits here."""
    task = tasks().get(task_name)
    return [name for name in (task.baselines if task else ()) if name in TITLES and task.splits]


@st.cache_resource(show_spinner=False, max_entries=8)
def fitted(model_id: str, task_name: str) -> tuple[object, list[str], dict]:
    """The baseline fitted on the task's training split, its labels, and its held-out accuracy with a 95 % CI."""
    from core.bench import adapters
    from core.stats import accuracy_with_ci

    dataset = next(iter(tasks()[task_name].splits))
    split, labels = dataset_split(dataset)
    adapter = adapters.make(model_id, list(labels), [e.text for e in split.train], [e.label for e in split.train])
    answers = adapter.probabilities([e.text for e in split.test]).argmax(axis=1)
    accuracy = accuracy_with_ci([labels[i] for i in answers], [e.label for e in split.test]).as_dict()
    return adapter, list(labels), accuracy


def spec(model_id: str, task_name: str) -> ModelSpec:
    """A model card for a baseline: fitted here (on the training split), nothing to download, no weights file."""
    adapter = fitted(model_id, task_name)[0]
    shares = getattr(adapter, "share", None)
    tied = shares is not None and np.sum(np.isclose(shares, shares.max())) > 1
    title = TIED if tied else TITLES[model_id]
    return ModelSpec(model_id, title, task_name, catalog.TRAINED, "baseline", model_id, "BSD-3-Clause",
                     None, title, languages=tasks()[task_name].languages)  # fmt: skip


def predict(model_id: str, task_name: str, text: str) -> ClassificationResult:
    adapter, labels, _accuracy = fitted(model_id, task_name)
    cleaned = check_text(text)
    started = time.perf_counter()
    probabilities = adapter.probabilities([cleaned])[0]
    latency = 1000 * (time.perf_counter() - started)
    return ClassificationResult(label=labels[int(np.argmax(probabilities))],
                                scores={label: float(p) for label, p in zip(labels, probabilities, strict=True)},
                                score_kind=PROBABILITY, model_key=model_id, n_tokens=0, n_tokens_input=0,
                                max_tokens=0, latency_ms=latency, runtime="scikit-learn")  # fmt: skip
