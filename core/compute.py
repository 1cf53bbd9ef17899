"""Compute (计算资源), the article's second challenge, counted and measured: what a Transformer costs to run
and to train, on this machine and at the sizes the article names.

Counts (no weights are loaded: a model's parameters are counted on torch's "meta" device from its config):

- **FLOPs per token** of a forward pass: 2 per weight of every matrix a token meets (each multiply-add is two
  floating-point operations) — the blocks' weights, and the output layer where the model predicts tokens — plus
  the attention scores and the weighted sum, 4 · layers · context · d_model (Q·Kᵀ and weights·V, computed
  densely as the eager kernels do; Kaplan et al. 2020 write 2 · n_layer · n_ctx · d_attn).
  Training costs about three forward passes per token (the backward pass is about twice the forward): the
  familiar 6 N per token, and 6 N D for a whole run of D tokens.
- **Memory**: weights at 4 (fp32), 2 (bf16/fp16) or 1 (int8) bytes each; training with AdamW keeps, per
  weight, its gradient and two fp32 moments (8 bytes): 16 bytes per weight in fp32 and with torch.autocast's bf16
  (weights and gradients stay fp32), and 16 too in DeepSpeed/Megatron-style mixed precision (2 + 2 + a 4-byte fp32
  master copy + 8). Activations stored for the backward pass follow Korthikanti et al. (2022):
  context · batch · d_model · (34 + 5 · heads · context / d_model) bytes per layer in 16-bit, about twice that in fp32.

Measured: this machine's matrix-multiply throughput (``measure_matmul``), and the training time of every model
trained here, from its model card, against the time the count predicts at that throughput.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core import catalog
from core.errors import CoreError
from core.messages import N_, Message

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1}
ADAM_BYTES = 16  # per weight while training with AdamW: see the module's docstring
# ... and where they go: the weights, the gradients, AdamW's two fp32 moments. bf16 here is torch.autocast's (what HF
# Trainer's bf16=True does): weights and gradients stay fp32, only the activations are bf16. DeepSpeed/Megatron-style
# mixed precision keeps bf16 weights and gradients and an fp32 master copy instead: 2 + 2 + 4 + 8, the same 16.
TRAINING_BYTES = {"fp32": {"training: weights": 4, "training: gradients": 4, "training: AdamW moments": 8},
                  "bf16": {"training: weights": 4, "training: gradients": 4, "training: AdamW moments": 8}}  # fmt: skip
MAX_MATMUL = 4096  # the largest square matrix the live measurement multiplies (a cap stated on the page)


@dataclass(frozen=True)
class Shape:
    """What the counts need to know of a Transformer."""

    name: str
    layers: int  # blocks a token passes through (encoder and decoder together for an encoder-decoder)
    d_model: int
    heads: int
    vocab: int
    context: int  # positions it can read
    parameters: int  # every weight
    embedding: int  # weights in the token and position tables
    predicts_tokens: bool  # a language model's output layer multiplies by the whole vocabulary per token

    @property
    def non_embedding(self) -> int:
        return self.parameters - self.embedding


def _dims(config) -> tuple[int, int, int, int, int]:
    """(layers, d_model, heads, vocab, context) of a BERT, GPT-2 or BART config."""
    get = lambda *names: next((getattr(config, n) for n in names if getattr(config, n, None) is not None), 0)  # noqa: E731
    if getattr(config, "encoder_layers", None) and getattr(config, "decoder_layers", None):  # BART: both stacks
        layers = config.encoder_layers + config.decoder_layers
    elif getattr(config, "is_encoder_decoder", False) and getattr(config, "num_decoder_layers", None):  # T5
        layers = config.num_layers + config.num_decoder_layers
    else:
        layers = get("num_hidden_layers", "n_layer")
    # T5's positions are relative, with no table and no fixed limit: counted at the 512 tokens it was pretrained on
    context = get("max_position_embeddings", "n_positions") or (512 if getattr(config, "relative_attention_num_buckets",
                                                                                  None) else 0)  # fmt: skip
    return (int(layers), int(get("hidden_size", "n_embd", "d_model")),
            int(get("num_attention_heads", "n_head", "encoder_attention_heads")), int(get("vocab_size")), int(context))


def hub_config_here(spec: catalog.ModelSpec) -> bool:
    """A Hub model's config.json is in this machine's Hugging Face cache (left by an earlier run with internet), so
    it can be counted offline."""
    from huggingface_hub import try_to_load_from_cache

    return spec.source == catalog.HUB and isinstance(try_to_load_from_cache(spec.location, "config.json"), str)


def countable(spec: catalog.ModelSpec) -> bool:
    """Its config can be read now: weights on this machine, or a Hub model online or with its config cached."""
    if spec.kind != "transformers":
        return False
    if spec.source == catalog.HUB:
        return catalog.availability(spec).ready or hub_config_here(spec)
    return catalog.availability(spec).ready


def shape_of(spec: catalog.ModelSpec) -> Shape:
    """The shape of a model, counted from its config.json on the meta device (no weights read): on disk, or a Hub
    model's (its config alone is fetched, a few kilobytes; offline, the copy in the Hugging Face cache)."""
    import torch

    from core import loading

    hub = spec.source == catalog.HUB
    try:
        where = spec.location if hub else str(loading.local_dir(spec))
        offline = not hub or not catalog.availability(spec).ready
        config = loading.from_transformers("AutoConfig").from_pretrained(where, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise CoreError(Message("Could not read the configuration of {name}: {error}", name=spec.title,
                                error=str(error)[:200])) from None  # fmt: skip
    causal = spec.task.startswith("generation")
    auto = "AutoModelForCausalLM" if causal else "AutoModelForSeq2SeqLM" if spec.task.startswith("translation") else "AutoModel"
    layers, d_model, heads, vocab, context = _dims(config)
    if not (layers <= 1000 and d_model <= 100_000 and vocab <= 10_000_000):  # a config is data: checked before building
        raise CoreError(Message("Could not read the configuration of {name}: {error}", name=spec.title,
                                error=f"{layers} layers × {d_model} wide, {vocab:,} tokens: out of range"))  # fmt: skip
    with loading.LOAD_LOCK, torch.device("meta"):
        model = loading.from_transformers(auto).from_config(config)
    parameters = sum(p.numel() for p in model.parameters())  # a tied output matrix is counted once
    tables = {id(m.weight): m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    embedding = sum(tables.values())  # a table shared by the encoder and the decoder (BART) counted once
    # a language model, a translator, a summarizer and a masked LM (its head scores every position) multiply by the
    # vocabulary
    predicts = causal or spec.task.startswith(("translation", "summarization")) or spec.task == "fill-mask"
    return Shape(spec.key, layers, d_model, heads, vocab, context, parameters, embedding, predicts)


def shape_from_size(layers: int, d_model: int, vocab: int, context: int, heads: int = 0, name: str = "") -> Shape:
    """A GPT-2-style decoder of the given size, counted by hand: per block 4 d² + 4 d (attention), 8 d² + 5 d (a
    4 d feed-forward layer), 4 d (two layer norms); the token and position tables; a final layer norm; the output
    matrix tied to the token table (as GPT-2 and GPT-3 do)."""
    if not (1 <= layers <= 1000 and 1 <= d_model <= 100_000 and 1 <= vocab <= 10_000_000 and 1 <= context <= 10**7):
        raise CoreError(Message("Layers 1–1,000, width 1–100,000, vocabulary up to 10 million and context up to "
                                "10 million."))  # fmt: skip
    per_block = 12 * d_model * d_model + 13 * d_model
    embedding = (vocab + context) * d_model
    heads = heads or max(1, d_model // 64)
    parameters = layers * per_block + embedding + 2 * d_model
    return Shape(name or f"{layers} × {d_model}", layers, d_model, heads, vocab, context, parameters, embedding, True)


def flops_per_token(shape: Shape, context: int | None = None) -> dict[str, float]:
    """Forward and training FLOPs per token at ``context`` tokens (the model's own context by default)."""
    context = context or shape.context
    weights = 2 * shape.non_embedding  # every weight of the blocks, one multiply-add each
    output = 2 * shape.vocab * shape.d_model if shape.predicts_tokens else 0
    attention = 4 * shape.layers * context * shape.d_model
    forward = weights + output + attention
    return {"weights": weights, "output layer": output, "attention": attention, "forward": forward,
            "training": 3 * forward}  # fmt: skip


def memory(shape: Shape, *, batch: int = 8, context: int | None = None) -> dict[str, dict[str, float]]:
    """Bytes to serve (weights in each precision) and to train (weights, gradients and AdamW states, and the
    activations kept for the backward pass of one batch), per precision."""
    context = context or shape.context
    n = shape.parameters
    per_layer_16 = context * batch * shape.d_model * (34 + 5 * shape.heads * context / shape.d_model)
    found = {}
    for precision, size in BYTES.items():
        found[precision] = {"weights (serving)": n * size}
        if precision in ("fp32", "bf16"):  # training in int8 is not a thing LM Lab does
            activations = shape.layers * per_layer_16 * (2 if precision == "fp32" else 1)
            found[precision].update({part: n * size for part, size in TRAINING_BYTES[precision].items()})
            found[precision]["training: activations"] = activations
    return found


@dataclass(frozen=True)
class Throughput:
    device: str
    precision: str
    size: int  # the square matrices' side
    seconds: float  # per multiplication, the median of the timed ones
    flops_per_s: float


def measure_matmul(device: str = "cpu", precision: str = "fp32", size: int = 1024, repeats: int = 5) -> Throughput:
    """This machine's achieved throughput on one large matrix product (2·size³ FLOPs), the median of ``repeats``
    after a warm-up. The caller holds the inference gate: it uses every core for a moment."""
    import torch

    if not 64 <= size <= MAX_MATMUL or not 1 <= repeats <= 20:
        raise CoreError(Message("Matrices of 64 to {most} rows, 1 to 20 repeats.", most=MAX_MATMUL))
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device=device, dtype=dtype) for _ in range(2))
    sync = {"cuda": torch.cuda.synchronize, "mps": getattr(torch, "mps", None) and torch.mps.synchronize}.get(device)
    sync = sync or (lambda: None)  # a GPU computes asynchronously: time the work, not its launch
    a @ b  # warm-up: kernels chosen, caches filled
    sync()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        sync()
        timings.append(time.perf_counter() - started)
    seconds = sorted(timings)[len(timings) // 2]
    return Throughput(device, precision, size, seconds, 2 * size**3 / seconds)


@dataclass(frozen=True)
class Run:
    """A model trained here: its measured training time against the time its FLOP count predicts."""

    key: str
    parameters: int  # every weight, as its card says
    training_flops_per_token: float  # ``flops_per_token(shape, max_length)["training"]`` (6 N plus attention and output),
    # and the layers' forward pass again for a run with activation checkpointing
    tokens: float  # tokens it trained on (see ``tokens_trained``)
    tokens_exact: bool  # False: an upper bound (examples × epochs × the longest length a batch is padded to)
    seconds: float
    device: str
    threads: int | None
    precision: str = "fp32"  # the card's training precision: bf16 mixed precision computes its products in bf16

    def predicted_seconds(self, flops_per_s: float) -> float:
        return self.training_flops_per_token * self.tokens / flops_per_s


def tokens_trained(card) -> tuple[float, bool] | None:
    """(tokens, exact) a model card's run trained on: the counted training tokens × epochs where the card has
    them (the language models), else examples × epochs × max_length, an upper bound; None when unknown."""
    hyper, data = card.get("hyperparameters") or {}, card.get("data") or {}
    epochs = hyper.get("epochs")
    if not epochs:
        return None
    if data.get("train_tokens"):
        return float(data["train_tokens"]) * float(epochs), True
    examples = data.get("train_size_after_augmentation") or data.get("train_size")  # what the epochs went over
    if examples and hyper.get("max_length"):
        return float(examples) * float(epochs) * float(hyper["max_length"]), False
    return None


def runs_here(shape: Callable[[catalog.ModelSpec], Shape] | None = None) -> list[Run]:
    """Every finished training run in the cache whose card says its size, time and tokens (``shape`` counts a
    model, ``shape_of`` unless the caller keeps its own cache of counts)."""
    shape = shape or shape_of
    found = []
    for spec in catalog.all_specs():
        if not spec.trained_here:
            continue
        card = catalog.read_metadata(spec.key)
        if card is None or not card.get("parameters") or not card.get("train_seconds"):
            continue
        tokens = tokens_trained(card)
        if tokens is None:
            continue
        try:
            counted = shape(spec)
        except CoreError:
            continue
        hyper = card.get("hyperparameters") or {}
        per_token = flops_per_token(counted, int(hyper.get("max_length") or counted.context))
        training = per_token["training"]
        if hyper.get("checkpointing") is True:  # every layer's forward pass once more, in the backward pass
            training += per_token["weights"] + per_token["attention"]
        found.append(Run(spec.key, int(card["parameters"]), training, tokens[0], tokens[1],
                         float(card["train_seconds"]), str(card.get("device", "cpu")), card.get("threads"),
                         str(card.get("precision") or "fp32")))  # fmt: skip
    return found


@dataclass(frozen=True)
class Famous:
    """A model the article names, with the published facts the extrapolation uses."""

    name: str
    parameters: float
    tokens: float | None  # training tokens; None where the authors did not publish them
    source: str


FAMOUS = (
    Famous("BERT-base", 110e6, 1e6 * 256 * (0.9 * 128 + 0.1 * 512),
           N_("Devlin et al. 2018: 110 M parameters; 1,000,000 steps of 256 sequences, 90 % of them 128 tokens long "
              "and 10 % 512")),
    Famous("BERT-large", 340e6, 1e6 * 256 * (0.9 * 128 + 0.1 * 512),
           N_("Devlin et al. 2018: 340 M parameters; the same schedule")),
    Famous("GPT-2", 1.5e9, None, N_("Radford et al. 2019: 1.5 B parameters; training tokens not published")),
    Famous("GPT-3", 175e9, 300e9, N_("Brown et al. 2020: 175 B parameters, 300 B training tokens; the paper reports "
                                     "3.14e23 FLOPs of training compute")),
)


def _folder(spec: catalog.ModelSpec) -> str:
    if spec.source == catalog.HUB:
        return spec.location
    if spec.source == catalog.PACKAGED:
        return str(catalog.package_path(spec.location))
    return str(catalog.cache_entry_dir(spec.key))


def snippet(spec: catalog.ModelSpec | None, size: int, typed: tuple[int, int, int, int] = (12, 768, 50_257, 1024)) -> str:
    """Code that counts what this page counts and measures what it measures, outside LM Lab: the chosen model, or the
    size typed (layers, d_model, vocabulary, context) as a GPT-2-style decoder."""
    if spec is not None:
        source = f"config = AutoConfig.from_pretrained({_folder(spec)!r})"
        causal, translation = spec.task.startswith("generation"), spec.task.startswith("translation")
        auto = "AutoModelForCausalLM" if causal else "AutoModelForSeq2SeqLM" if translation else "AutoModel"
    else:
        layers, d_model, vocab, context = typed
        heads = next(h for h in range(max(1, d_model // 64), 0, -1) if d_model % h == 0)  # heads must divide d_model
        source = (f"config = GPT2Config(n_layer={layers}, n_embd={d_model}, n_head={heads}, "
                  f"vocab_size={vocab}, n_positions={context})")  # fmt: skip
        auto = "AutoModelForCausalLM"
    return (
        "import time\n\nimport torch\n"
        f"from transformers import AutoConfig, {auto}, GPT2Config\n\n"
        f"{source}\n"
        "with torch.device(\"meta\"):  # shapes only: no memory, no weights read\n"
        f"    model = {auto}.from_config(config)\n"
        "n = sum(p.numel() for p in model.parameters())\n"
        "tables = sum({id(m.weight): m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding)}.values())\n"
        "print(f\"{n:,} parameters, {n - tables:,} outside the token and position tables\")\n"
        "# Kaplan's 6 N: N outside the token and position tables (the page adds the output layer and attention)\n"
        "print(f\"training ≈ 6 × {n - tables:,} FLOPs per token; AdamW needs 16 bytes per weight: {16 * n / 1e9:.2f} GB\")\n\n"
        f"a, b = torch.randn({size}, {size}), torch.randn({size}, {size})\n"
        "a @ b  # warm-up\n"
        "timings = []\n"
        "for _ in range(5):\n"
        "    started = time.perf_counter()\n"
        "    a @ b\n"
        "    timings.append(time.perf_counter() - started)\n"
        f"print(f\"{{2 * {size}**3 / sorted(timings)[2] / 1e9:.1f}} GFLOP/s\")\n"
    )


def training_flops(parameters: float, tokens: float) -> float:
    """6 N D: the whole run's FLOPs."""
    return 6 * parameters * tokens


def cost(flops: float, flops_per_s: float, watts: float, grams_per_kwh: float) -> dict[str, float]:
    """Time, energy and CO₂ of ``flops`` at an achieved throughput, a power draw and a grid's carbon intensity."""
    if flops_per_s <= 0 or watts < 0 or grams_per_kwh < 0:
        raise CoreError(Message("Throughput must be positive; power and grid intensity zero or more."))
    seconds = flops / flops_per_s
    kwh = seconds * watts / 3.6e6
    return {"seconds": seconds, "kwh": kwh, "co2_kg": kwh * grams_per_kwh / 1000}
