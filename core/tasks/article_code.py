"""The article's code sample, its mistakes named, and the script that reproduces one of LM Lab's training runs.

The article trains a BERT text classifier in five snippets (``AutoTokenizer`` → ``AutoModelForSequenceClassification``
→ ``TrainingArguments``/``Trainer`` → ``pipeline``). Run as printed, they fail or mislead; ``MISTAKES`` says where and
why, each tied to a line of ``ARTICLE_CODE`` by its marker. ``training_script`` writes the same workflow as one script
that runs: the Train page's settings of a run (its model card's recipe), LM Lab's fixed split of the data, plain
``transformers`` for everything else. Saved in the LM Lab folder and run on the same machine's CPU, it trains the
same model again (tested); on a GPU, or with other thread counts, floating-point sums can differ a little.
"""

from __future__ import annotations

import pprint

from core.messages import N_

# The article's five snippets, as printed there (the circled numbers mark the mistakes below).
ARTICLE_CODE = """\
pip install torch transformers  # ①

from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")

from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")  # ②

from transformers import Trainer, TrainingArguments

training_args = TrainingArguments("test")  # ③
trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=train_dataset,  # ④
    eval_dataset=eval_dataset,
)
trainer.train()

from transformers import pipeline

classifier = pipeline("text-classification", model="bert-base-uncased")  # ⑤
predictions = classifier("This is a great example of BERT text classification.")
print(predictions)
"""

MISTAKES = (
    ("①", N_("`pip install …` is a shell command: inside a Python file it is a syntax error. And `Trainer` on PyTorch "
             "also needs `accelerate`, which the line leaves out.")),
    ("②", N_("No labels are given: the classification head gets two outputs called LABEL_0 and LABEL_1, with random "
             "weights (transformers says so in a warning). That is the point of fine-tuning, but the number and the "
             "names of the classes must be passed (`num_labels`, `id2label`, `label2id`).")),
    ("③", N_("Only the output folder is set: 3 epochs, learning rate 5e-5, batches of 8, and no evaluation during "
             "training, so `eval_dataset` is never used while it trains and nothing stops it when it starts to "
             "overfit.")),
    ("④", N_("`train_dataset` and `eval_dataset` are never defined, and nothing is tokenized: `Trainer` needs each "
             "example as token ids with its label id (and a collator that pads each batch).")),
    ("⑤", N_("The pipeline loads `bert-base-uncased` again, not the model just trained: its classification head is "
             "random anew, so the prediction is a coin toss. Save the trained model and load that folder.")),
)

_LOCAL = "from core import catalog\nfrom core.loading import local_dir\n"
_BASES = {  # base: (extra transformers classes, LM Lab imports, where the base comes from)
    "minilm-l6": ("", _LOCAL, "BASE = local_dir(catalog.MINILM)  # LM Lab's packaged copy of "
                  "sentence-transformers/all-MiniLM-L6-v2\n"),
    "scratch": ("BertConfig, BertForSequenceClassification", _LOCAL,
                "BASE = local_dir(catalog.MINILM)  # only its WordPiece vocabulary (bert-base-uncased's): the weights "
                "start random\n"),
    "zh-bert": ("", _LOCAL, 'BASE = local_dir(catalog.get_spec("zh-bert-mlm"))  # the Chinese BERT pretrained in LM '
                "Lab (python -m core.train --model zh-bert-mlm)\n"),
    "zh-scratch": ("RoFormerForSequenceClassification", "from core.training.pretrain import chinese_config, "
                   "chinese_tokenizer\n", ""),
    "zh-pieces": ("RoFormerForSequenceClassification", "from core.training.pretrain import chinese_config, "
                  "chinese_pieces\n", ""),
}  # fmt: skip


def _model_lines(recipe: dict) -> str:
    """The tokenizer and the model to fine-tune, as the run built them."""
    head = "num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id"
    dropout = recipe.get("dropout")
    extra = f", hidden_dropout_prob={dropout!r}, attention_probs_dropout_prob={dropout!r}" if dropout is not None else ""
    base = recipe["base"]
    if base == "scratch":
        size = max(128, recipe["max_length"])
        return ("tokenizer = AutoTokenizer.from_pretrained(BASE)\n"
                f"config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings={size},\n"
                f"                    {head}{extra},\n                    **{recipe['scratch']!r})\nmodel = BertForSequenceClassification(config)  # random "
                "weights: nothing pretrained\n")  # fmt: skip
    if base in ("zh-scratch", "zh-pieces"):
        vocabulary = ("tokenizer = chinese_tokenizer()  # the character vocabulary LM Lab built for its Chinese BERT\n"
                      if base == "zh-scratch" else f"tokenizer = chinese_pieces({recipe['scratch'].get('vocab_size', '')})"
                      "  # BPE pieces learnt on the training reviews\n")  # fmt: skip
        return (vocabulary +
                f"config = chinese_config(tokenizer, {recipe['scratch']!r}, max_length={recipe['max_length']}, "
                f"dropout={dropout!r}, {head})\nmodel = RoFormerForSequenceClassification(config)  # random weights\n")  # fmt: skip
    source = f"{recipe['hub_model']!r}" if base == "hub" else "BASE"
    mismatched = ", ignore_mismatched_sizes=True" if base == "hub" else ""
    if base == "hub":  # LM Lab keeps a Hub model's own dropout (its config may not even name these fields)
        extra = ""
    return (f"tokenizer = AutoTokenizer.from_pretrained({source})\n"
            f"model = AutoModelForSequenceClassification.from_pretrained({source}, {head}{extra}{mismatched})  # ② "
            "a new head for these labels\n")  # fmt: skip


def _split(recipe: dict) -> bool:
    """Whether the run had a cap on one pass's tokens on the CPU (``step_tokens``): then its batches (and its scoring
    batches) were sized by ``core.training.trainer.passes``, and the script sizes them the same way."""
    return bool(recipe.get("step_tokens"))


def _arguments(recipe: dict, precision: str, device: str) -> str:
    early = recipe["patience"] > 0 and recipe["validation_fraction"] > 0
    evaluate = recipe["validation_fraction"] > 0
    on_cpu = "True" if precision == "bf16" and device == "cpu" else 'pick_device() == "cpu"'  # bf16 on the CPU, as it was
    batches = (["per_device_train_batch_size=part", "gradient_accumulation_steps=accumulate",
                "per_device_eval_batch_size=scoring", f"use_cpu={on_cpu}"] if _split(recipe)
               else [f"per_device_train_batch_size={recipe['batch_size']}", "per_device_eval_batch_size=64"])  # fmt: skip
    lines = [f'output_dir="checkpoints-{recipe["key"]}"', f"num_train_epochs={recipe['epochs']!r}",
             f"learning_rate={recipe['learning_rate']!r}", *batches, f"weight_decay={recipe['weight_decay']!r}",
             f"warmup_steps={recipe['warmup_ratio']!r}",
             f"seed={recipe['seed']}", f'eval_strategy="{"epoch" if evaluate else "no"}"',
             f'save_strategy="{"epoch" if early else "no"}"']  # fmt: skip
    if early:
        lines += ["save_total_limit=1", "load_best_model_at_end=True", 'metric_for_best_model="eval_loss"',
                  "greater_is_better=False"]  # fmt: skip
    if recipe.get("group_by_length"):
        lines.append('train_sampling_strategy="group_by_length"')
    if recipe.get("checkpointing"):  # recompute each layer in the backward pass: less memory, the same numbers
        from core.loading import checkpointing_argument

        lines.append(f"{checkpointing_argument()}=True")
    if precision == "bf16" and device == "cpu":  # trained on a CPU in bf16 (LMLAB_TRAIN_PRECISION=bf16): so is this
        lines += ["bf16=True"] if _split(recipe) else ["use_cpu=True", "bf16=True"]  # on the CPU (use_cpu once)
    elif precision in ("bf16", "fp16"):  # the run was trained on a GPU in mixed precision: so is this one, on a GPU
        lines.append(f"{precision}=torch.cuda.is_available()")
    lines.append('report_to="none"')
    return "".join(f"    {line},\n" for line in lines)  # warmup_steps below 1 is a share of all steps


def _precision_lines(precision: str, device: str) -> tuple[str, str]:
    """The script's lines before and after ``trainer.train()`` for the card's precision: a bf16 run on the CPU trains
    with attention in plain operations, as LM Lab does there; any mixed-precision run is scored in fp32, as served."""
    before = after = ""
    if precision == "bf16" and device == "cpu":
        before = ('attention = model.config._attn_implementation\nmodel.set_attn_implementation("eager")  # attention '
                  "in plain operations while it trains in bf16 on the CPU\n")
        after = "model.set_attn_implementation(attention)  # its own attention again\n"
    if precision in ("bf16", "fp16"):
        after += ('if "_original_forward" in model.__dict__:  # the forward without autocast: scored in fp32, as served\n'
                  "    del model.forward, model._original_forward\n")
    return before, after


def training_script(recipe: dict, precision: str = "fp32", device: str = "cpu") -> str:
    """A runnable script that trains the classifier ``recipe`` (a card's) as LM Lab did, in its precision and place."""
    on_cpu_bf16, (before, after) = precision == "bf16" and device == "cpu", _precision_lines(precision, device)
    classes, imports, base = _BASES.get(recipe["base"], ("", "", ""))
    early = recipe["patience"] > 0 and recipe["validation_fraction"] > 0
    padding = ', padding="max_length"' if recipe.get("padding") == "max_length" else ""
    settings = pprint.pformat(recipe, width=100, sort_dicts=True)  # Python literals, whatever the texts hold
    return (
        f'"""Trains LM Lab\'s run {recipe["key"]!r} again with Hugging Face Trainer — the article\'s workflow, fixed.\n\n'
        "Save it in the LM Lab folder and run it there (it imports LM Lab to read the fixed split of the data):\n"
        "    python this_file.py   (with the app's LMLAB_CACHE_HOME, if it sets one)\n"
        "It needs, in a shell (not in Python, ①):  pip install torch transformers accelerate\n"
        '"""\n\n'
        "import torch\n"
        "from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,\n"
        "                          EarlyStoppingCallback, Trainer, TrainingArguments, pipeline)\n"
        + (f"from transformers import {classes}\n" if classes else "") + "\n"
        + imports
        + "from core.training.prepare import prepare\nfrom core.training.recipes import Recipe\n\n"
        + f"# The run's settings, from its model card\nrecipe = Recipe.from_json({settings})\n\n"
        "# 1 · Data: the fixed train/test split, the labelled examples the run spends (recipe.examples, 0 = all),\n"
        "# a stratified validation share of them, augmentation\n"
        "data = prepare(recipe)\nlabels = data.labels\nlabel2id = {label: i for i, label in enumerate(labels)}\n\n"
        "# 2 · Architecture\ntorch.manual_seed(recipe.seed)\n" + base + _model_lines(recipe)
        + ("model.get_input_embeddings().weight.requires_grad_(False)  # the word table stays as it started\n"
           if recipe.get("freeze_word_embeddings") else "") + before + "\n\n"
        "def encode(examples):  # ④ token ids and a label id per example\n"
        "    if not examples:\n        return []\n"
        f"    encoded = tokenizer([e.text for e in examples], truncation=True, max_length={recipe['max_length']}"
        f"{padding})\n"
        '    return [{"input_ids": ids, "attention_mask": mask, "labels": label2id[e.label]}\n'
        '            for ids, mask, e in zip(encoded["input_ids"], encoded["attention_mask"], examples)]\n\n\n'
        "train_dataset, eval_dataset = encode(data.train), encode(data.validation)\n"
        "test_dataset = encode(list(data.split.test))\n\n\n"
        "def accuracy(prediction):\n"
        '    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}\n\n\n'
        "# 3 · Training (③ every setting stated; validation each epoch when there is a validation share)\n"
        + ("# on the CPU a batch too big for one pass (recipe.step_tokens) goes in parts whose gradients add up\n"
           "from core.device import pick_device\nfrom core.training.trainer import passes\n\n"
           "part, accumulate, scoring = passes(recipe, on_cpu=" + ("True" if on_cpu_bf16 else 'pick_device() == "cpu"')
           + ")  # as LM Lab chose the device\n"
           if _split(recipe) else "")
        + "args = TrainingArguments(\n" + _arguments(recipe, precision, device) + ")\n"
        "trainer = Trainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset or None,\n"
        "                  data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,\n"
        "                  compute_metrics=accuracy if eval_dataset else None"
        + (f",\n                  callbacks=[EarlyStoppingCallback(early_stopping_patience={recipe['patience']})])\n"
           if early else ")\n")
        + ("if accumulate > 1:  # each part's loss is its own mean: Trainer divides it over the parts\n"
           "    trainer.model_accepts_loss_kwargs = False\n" if _split(recipe) else "")
        + "trainer.train()\n" + after + "\n"
        "# 4 · Evaluation on the held-out test split, never seen in training\n"
        "output = trainer.predict(test_dataset)\n"
        'print("held-out accuracy:", float((output.predictions.argmax(-1) == output.label_ids).mean()))\n\n'
        "# 5 · Deployment: save the trained model and load that folder (⑤ not the base checkpoint again)\n"
        f'trainer.save_model("{recipe["key"]}-model")\n'
        f'classifier = pipeline("text-classification", model="{recipe["key"]}-model")\n'
        f"print(classifier(data.split.test[0].text, truncation=True, max_length={recipe['max_length']}))  # a held-out "
        "text, in the data's own language, cut as in training (a vocabulary built here sets no length of its own)\n"
    )
