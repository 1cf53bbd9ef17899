"""bertviz's head view and model view as self-contained, offline, injection-safe HTML.

Stock bertviz output loads require.js, d3 and jQuery from a CDN (a blank view offline) and puts
the tokens into a ``<script>`` block as raw JSON (a token ``</script>…`` breaks out of it). Here:

1. bertviz builds its page from a one-token stand-in with the real numbers of layers and heads,
   so its HTML, options and JavaScript are bertviz's own;
2. the stand-in's params are replaced with the real ones, in which every ``<`` is written as the
   JavaScript escape ``\\u003c`` — the browser reads the same token, but ``</script>`` can
   never appear in the page source — and the attention weights travel as bytes (each weight
   rounded to 1/255, base64) that a few lines of JavaScript expand back before bertviz runs:
   about 25 times smaller than bertviz's JSON;
3. the CDN ``<script src=…require.min.js>`` is removed; d3 v5 (from the installed ``mpld3``
   package) and jQuery (from ``xstatic-jquery``) are inlined, read at run time, with a small
   ``requirejs`` stand-in that hands them to bertviz's code.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path

import numpy as np

from core.catalog import package_path
from core.errors import CoreError

_REQUIRE_TAG = re.compile(r"<script[^>]*src=\"[^\"]*require[^\"]*\"[^>]*>\s*</script>")
# bertviz substitutes its params into the code *and* into the comment after it; both go.
_PARAMS_LINE = re.compile(r"const params = (.*?); // HACK: .*$", re.MULTILINE)

# bertviz's own require.config names CDN addresses; the stand-in below makes them unnecessary.
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)

_SHIM = (
    "window.require={config:function(){}};"
    "window.requirejs=function(deps,cb){var m={jquery:window.jQuery,d3:window.d3};"
    "cb.apply(null,deps.map(function(d){return m[d]}));};"
)
# Expands {"q8": base64, "shape": [layers, heads, rows, cols]} into nested arrays of weights.
_INFLATE = (
    "window.__lmlabInflate=function(p){p.attention.forEach(function(a){var s=a.attn.shape,"
    "b=atob(a.attn.q8),i=0,L=[];for(var l=0;l<s[0];l++){var H=[];for(var h=0;h<s[1];h++){var R=[];"
    "for(var r=0;r<s[2];r++){var C=new Array(s[3]);for(var c=0;c<s[3];c++){C[c]=b.charCodeAt(i++)/255;}"
    "R.push(C);}H.push(R);}L.push(H);}a.attn=L;});return p;};"
)


# bertviz writes its labels in English, in its HTML and in its JavaScript; a page passes their translations, keyed
# as _translated reads them ("Layer:", "Attention:", "Layer {layer}, head {head}", "Layers", "Heads", and the menu's
# entries: bertviz's own attention names, see _self_attention_sets and encoder_decoder_view).
_OPTION = re.compile(r'(<option value="\d+">)([^<]*)(</option>)')
_DETAIL_HEADING = """'Layer ' + config.layers[layerIndex] + ", Head " + config.heads[headIndex]"""


def _translated(html: str, labels: dict[str, str] | None) -> str:
    """bertviz's page with its labels in the reader's language (``labels``: English → shown). A label this bertviz
    version writes differently stays English; the view still works."""
    if not labels:
        return html

    def text(key: str) -> str:
        return labels.get(key) or key

    for name in ("Layer", "Attention"):  # the head view's menus
        html = html.replace(f'{name}: <select id="', f'{escape(text(name + ":"))} <select id="')
    html = _OPTION.sub(lambda match: match[1] + escape(text(unescape(match[2]))) + match[3], html)
    for name in ("Heads", "Layers"):  # the model view's axis titles
        html = html.replace(f'.text("{name}")', f".text({_script_safe_json(text(name))})")
    pieces = re.split(r"(\{layer\}|\{head\})", text("Layer {layer}, head {head}"))
    if sorted(pieces[1::2]) == ["{head}", "{layer}"]:  # the model view's heading over a head drawn large
        values = {"{layer}": "config.layers[layerIndex]", "{head}": "config.heads[headIndex]"}
        html = html.replace(_DETAIL_HEADING, " + ".join(values.get(p) or _script_safe_json(p) for p in pieces))
    return html


@dataclass(frozen=True)
class AttentionSet:
    """One named attention for bertviz: weights (layers, heads, rows, cols) and the row/column tokens."""

    name: str | None  # bertviz's own names: None for one sequence, 'All', 'Encoder', …
    weights: np.ndarray
    row_tokens: list[str]
    column_tokens: list[str]


@functools.cache
def _library(location: str) -> str:
    path: Path = package_path(location)
    try:
        code = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CoreError(f"Could not read {path.name} ({error}); reinstall requirements.txt.") from None
    return code.replace("</script", "<\\/script")  # defensive: a library may not close our tag


def javascript_libraries() -> str:
    d3 = _library("package:mpld3/js/d3.v5.min.js")
    jquery = _library("package:xstatic/pkg/jquery/data/jquery.min.js")
    return f"<script>{d3}</script>\n<script>{jquery}</script>\n<script>{_SHIM}{_INFLATE}</script>\n"


def _pack(weights: np.ndarray) -> dict:
    quantised = np.clip(np.rint(np.asarray(weights, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    return {"q8": base64.b64encode(quantised.tobytes()).decode("ascii"), "shape": list(quantised.shape)}


def _script_safe_json(data: dict) -> str:
    # JSON has no '<' outside strings, and inside a JS string '\u003c' is '<': nothing can close the tag.
    return json.dumps(data).replace("<", "\\u003c")


def _stand_in(weights: np.ndarray, n_tokens: int = 1):
    import torch

    layers, heads = weights.shape[:2]
    return tuple(torch.full((1, heads, n_tokens, n_tokens), 1.0 / n_tokens) for _ in range(layers))


def _finish(stock_html: str, sets: list[AttentionSet], labels: dict[str, str] | None = None) -> str:
    match = _PARAMS_LINE.search(stock_html)
    if match is None:
        raise CoreError(
            "This bertviz version writes its parameters differently; LM Lab supports bertviz 1.4."
        )
    params = json.loads(match.group(1))
    by_name = {s.name: s for s in sets}
    for entry in params["attention"]:
        chosen = by_name[entry["name"]]
        entry["attn"] = _pack(chosen.weights)
        entry["left_text"] = list(chosen.row_tokens)
        entry["right_text"] = list(chosen.column_tokens)
    safe = "const params = window.__lmlabInflate(" + _script_safe_json(params) + "); // set by LM Lab"
    # the labels go into bertviz's own code only, never near the tokens: translated before the params go in
    html = _translated(stock_html[: match.start()], labels) + safe + _translated(stock_html[match.end() :], labels)
    html = _REQUIRE_TAG.sub("", html)
    html = _REQUIRE_CONFIG.sub("", html, count=1)
    head = "<!DOCTYPE html>\n<html><head><meta charset='utf-8'></head><body>\n"
    return head + javascript_libraries() + html + "\n</body></html>"


def _check(weights: np.ndarray, rows: list[str], columns: list[str]) -> np.ndarray:
    weights = np.asarray(weights)
    if weights.ndim != 4 or weights.shape[2:] != (len(rows), len(columns)):
        raise CoreError(
            f"Attention of shape {weights.shape} does not match {len(rows)} × {len(columns)} tokens."
        )
    return weights


def _self_attention_sets(
    weights: np.ndarray, tokens: list[str], sentence_b_start: int | None
) -> list[AttentionSet]:
    """The attention sets bertviz shows for one sequence or a sentence pair, under bertviz's own names."""
    if sentence_b_start is None:
        return [AttentionSet(None, weights, tokens, tokens)]
    if not 0 < sentence_b_start < len(tokens):
        raise CoreError(f"sentence_b_start={sentence_b_start} must fall inside the {len(tokens)} tokens.")
    a, b = slice(0, sentence_b_start), slice(sentence_b_start, len(tokens))
    pairs = {"All": (slice(None), slice(None)), "Sentence A -> Sentence A": (a, a), "Sentence B -> Sentence B": (b, b),
             "Sentence A -> Sentence B": (a, b), "Sentence B -> Sentence A": (b, a)}  # fmt: skip
    return [
        AttentionSet(name, weights[:, :, rows, columns], tokens[rows], tokens[columns])
        for name, (rows, columns) in pairs.items()
    ]


def _view(stock, weights: np.ndarray, tokens: list[str], sentence_b_start: int | None,
          labels: dict[str, str] | None, **kwargs) -> str:  # fmt: skip
    weights = _check(weights, tokens, tokens)
    pair = sentence_b_start is not None
    html = stock(
        _stand_in(weights, 2 if pair else 1),
        ["·", "·"] if pair else ["·"],
        sentence_b_start=1 if pair else None,
        html_action="return",
        **kwargs,
    ).data
    return _finish(html, _self_attention_sets(weights, tokens, sentence_b_start), labels)


def head_view(weights: np.ndarray, tokens: list[str], sentence_b_start: int | None = None, layer: int = 0, *,
              labels: dict[str, str] | None = None) -> str:  # fmt: skip
    """bertviz's head view for one sequence or a sentence pair: weights (layers, heads, T, T); ``labels``: the
    translations of bertviz's labels (see ``_translated``)."""
    from bertviz import head_view as stock

    return _view(stock, weights, tokens, sentence_b_start, labels, layer=layer)


def model_view(weights: np.ndarray, tokens: list[str], sentence_b_start: int | None = None, *,
               labels: dict[str, str] | None = None) -> str:  # fmt: skip
    """bertviz's model view (every layer × head as a thumbnail): weights (layers, heads, T, T)."""
    from bertviz import model_view as stock

    return _view(stock, weights, tokens, sentence_b_start, labels)


def encoder_decoder_view(
    encoder: np.ndarray,
    decoder: np.ndarray,
    cross: np.ndarray,
    encoder_tokens: list[str],
    decoder_tokens: list[str],
    kind: str = "head",
    labels: dict[str, str] | None = None,
) -> str:
    """bertviz's encoder / decoder / cross-attention views (choose them in the view's 'Attention' menu)."""
    import bertviz

    encoder = _check(encoder, encoder_tokens, encoder_tokens)
    decoder = _check(decoder, decoder_tokens, decoder_tokens)
    cross = _check(cross, decoder_tokens, encoder_tokens)
    stock = {"head": bertviz.head_view, "model": bertviz.model_view}.get(kind)
    if stock is None:
        raise CoreError(f"Unknown view {kind!r}; choose 'head' or 'model'.")
    html = stock(
        encoder_attention=_stand_in(encoder),
        decoder_attention=_stand_in(decoder),
        cross_attention=_stand_in(cross),
        encoder_tokens=["·"],
        decoder_tokens=["·"],
        html_action="return",
    ).data
    sets = [
        AttentionSet("Encoder", encoder, encoder_tokens, encoder_tokens),
        AttentionSet("Decoder", decoder, decoder_tokens, decoder_tokens),
        AttentionSet("Cross", cross, decoder_tokens, encoder_tokens),
    ]
    return _finish(html, sets, labels)
