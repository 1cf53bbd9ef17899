"""Train: the article's five steps — data, architecture, training, evaluation, deployment — as one page."""

import streamlit as st

from core.catalog import validate_key
from core.errors import CoreError
from core.training import jobs as core_jobs
from core.training.recipes import Recipe
from ui import article, safe, train, train_runs
from ui.i18n import _
from ui.runtime import session_owner, through_router

through_router()

st.title(_("Train a classifier"))
st.markdown(
    _("Fine-tune a BERT-style model the way the article describes — `AutoTokenizer`, "
      "`AutoModelForSequenceClassification`, `Trainer` — and watch every step. The run goes to a background "
      "process; you can leave the page and come back.")
)
train.other_tasks()

st.header(_("1 · Data"))
data_fields = train.data_choice()
if data_fields is None:
    st.stop()
task = train.task_of(data_fields["dataset"])
if task is None:
    task = st.radio(
        _("Which page should offer the trained model?"),
        train.classification_tasks(),
        format_func=train.task_titles().get,
        key="train-task",
        horizontal=True,
    )

st.header(_("2 · Architecture"))
arch_fields = train.architecture_choice()
article.erratum("pretraining")

st.header(_("3 · Training"))
hyper = train.hyperparameters(arch_fields["base"])
default_name = f"{data_fields['dataset']}-{session_owner()[:6]}"  # unique per session: nobody joins another's run
name = st.text_input(
    _("Name of the run (also the model's name in the cache)"), default_name, key="train-name", max_chars=64
).strip()
try:
    recipe = Recipe(key=validate_key(name), title=name, task=task, description=f"Trained on the Train page ({name}).",
                    **data_fields, **arch_fields, **hyper).validated()  # fmt: skip
except (CoreError, TypeError) as error:
    safe.error(error)
    st.stop()

with st.expander(_("Data as the model sees it"), expanded=True, icon=":material/table_view:"):
    preview = train.data_preview(recipe)
with st.expander(_("The model"), icon=":material/account_tree:"):
    if preview:
        train.architecture_summary(recipe, len(preview["labels"]))

status = core_jobs.status(recipe.key)
if st.button(_("Start training"), key="train-start", type="primary", disabled=status.active or preview is None,
             icon=":material/model_training:"):  # fmt: skip
    train.start(recipe)
train.limits_note()
train_runs.session_key()
watching = st.session_state.get("train-watching") or (recipe.key if status.active else None)
if watching:
    train.live(watching)

all_runs = train_runs.runs()
if not all_runs:
    st.stop()
st.header(_("4 · Evaluation"))
keys = [meta["key"] for meta in all_runs]
train_runs.from_link(keys)
shown = st.selectbox(_("Run"), keys, key="train-shown")
meta = next(m for m in all_runs if m["key"] == shown)
train_runs.results(meta)

st.header(_("5 · Deployment"))
train_runs.deployment(meta)
train_runs.delete_button(meta)
article.code_panel(meta)

st.header(_("Compare runs"))
train_runs.compare_runs(all_runs)
