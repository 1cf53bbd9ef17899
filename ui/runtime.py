"""Process-wide facts shown in every page: online/offline mode and the device.

The device is probed in a child process (``python -m core.device``) so that the Home page
answers without importing torch; the sidebar shows "detecting…" for the second it takes.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading

import streamlit as st

from core import settings, warmup
from core.io import spawn_module
from ui.i18n import _

_ROUTED = "_lmlab_routed"


@st.cache_resource(show_spinner=False)
def favicon():
    """A small icon drawn here, so the browser tab needs no icon font from the internet."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((2, 2, 62, 62), radius=14, fill=(38, 70, 140, 255))
    left, right = [(16, 14 + 12 * i) for i in range(4)], [(48, 14 + 12 * i) for i in range(4)]
    for a, b, width in ((0, 1, 3), (1, 1, 5), (2, 3, 3), (3, 2, 2), (0, 0, 2)):  # attention lines
        draw.line((left[a], right[b]), fill=(255, 255, 255, 230), width=width)
    for x, y in left + right:
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(255, 200, 80, 255))
    return image


_PAGES: dict[tuple, st.Page] = {}  # (path, title, icon, default) → the page built for it: at most pages × languages


def page(path: str, *, title: str, icon: str, default: bool = False) -> st.Page:
    """``st.Page(path, …)``, built once per process and copied for each run: building one resolves its script on disk
    (a class's reruns built 24 of them each), and st.navigation marks the copy it runs, so sessions never share one."""
    key = (path, title, icon, default)
    built = _PAGES.get(key)
    if built is None:
        built = _PAGES[key] = st.Page(path, title=title, icon=icon, default=default)
    return copy.copy(built)


OWNER = "_lmlab_owner"


def session_owner() -> str:
    """This browser session's opaque owner id: runs it starts belong to it (cancel, overwrite, delete).

    Kept in session state, never put in a URL, shown only to its own session (the Train page's key, which takes
    the runs back after a reload): another student cannot borrow it.
    """
    import uuid

    return st.session_state.setdefault(OWNER, uuid.uuid4().hex)


def take_over(key: str) -> list[str] | None:
    """This session becomes the owner ``key`` (pasted after a reload) when some run on the server is its; the runs,
    or None when the key is malformed or owns nothing."""
    import re

    from core.training import ownership

    key = key.strip().lower()
    runs = ownership.runs_of(key) if re.fullmatch(r"[0-9a-f]{32}", key) else []
    if not runs:
        return None
    from core.data import claims

    claims.hand_over(session_owner(), key)  # the uploads of this session go with it, and the earlier ones are its
    st.session_state[OWNER] = key
    st.session_state["train-own-uploads"] = claims.held_by(key)
    return runs


@st.cache_resource(show_spinner=False)
def _swept_once() -> dict:
    """Leftovers of killed processes, removed once when the server process starts."""
    from core import housekeeping

    try:
        return housekeeping.sweep()
    except OSError as error:  # a read-only or shared cache: clean nothing, break nothing
        return {"error": str(error)}


def run_page(navigation) -> None:
    """Run the chosen page. With ``LMLAB_TIMING_LOG`` set (the classroom load test sets it), append how long
    this script run took on the server, so the server's own time can be told from the browsers'."""
    path = os.environ.get("LMLAB_TIMING_LOG", "").strip()
    if not path:
        navigation.run()
        warmup.start()  # after the first page is served: the Learn pages' model, loaded in the background
        return
    import time

    started = time.perf_counter()
    try:
        navigation.run()
        warmup.start()
    finally:
        record = {"t": time.time(), "page": str(getattr(navigation, "title", "")), "s": round(time.perf_counter() - started, 4)}
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")


def boot() -> settings.Mode:
    """Decide online/offline once per process, before any page imports transformers; sweep the cache."""
    st.session_state[_ROUTED] = True
    _swept_once()
    if settings.warmup():  # the server's pages
        settings.serve_switch_interval()
        if "torch" not in sys.modules:  # one thread count for every thread
            settings.serve_threads_before_torch()
    return settings.decide_mode()


PAGE_HEADERS: list = []  # set by the router: drawn at the top of every page, as part of the page's own run


def through_router() -> None:
    """First call in every page: make sure the page runs inside the router.

    Streamlit decides per process whether the app uses its old folder-based pages (a ``pages/``
    folder exists) until ``st.navigation`` is first called. So on a server's very first
    session, a deep link such as ``/sentiment`` runs ``pages/sentiment.py`` directly, without
    the router's page config, sidebar and navigation. Switch that old mode off, as
    ``st.navigation`` itself does, and rerun: the router then opens the requested page.
    """
    if st.session_state.get(_ROUTED):
        for draw in PAGE_HEADERS:  # what the router asks every page to draw first (lesson mode's step)
            draw()
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except ImportError:  # a Streamlit without this switch has no folder-based mode to leave
        return
    st.rerun()


class _DeviceProbe:
    def __init__(self) -> None:
        self.result: dict | None = None
        self.error = ""
        self._process = spawn_module("core.device")
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        try:
            out, err = self._process.communicate(timeout=120)
            self.result = json.loads(out)
        except Exception as error:  # shown in the sidebar, never fatal
            self.error = f"device probe failed: {error}"


@st.cache_resource(show_spinner=False)
def _device_probe() -> _DeviceProbe:
    return _DeviceProbe()


def device_info() -> dict | None:
    """The device description once the probe has answered, else None."""
    return _device_probe().result


def training_precision(info: dict) -> str:
    """The device's training precision in words: on a CPU, bf16 (``LMLAB_TRAIN_PRECISION=bf16``) covers runs of at most
    128 tokens (``core.device.CPU_BF16_MAX_LENGTH``) and longer ones train in fp32."""
    if info.get("device") == "cpu" and info.get("train_dtype") == "bf16":
        return _("bf16 (runs of up to 128 tokens; fp32 beyond)")
    return str(info.get("train_dtype", "fp32"))


def device_error() -> str:
    return _device_probe().error


def sidebar_status() -> None:
    """Mode and device, in view on every page."""
    mode = settings.current_mode()
    with st.sidebar:
        if mode.online:
            st.badge(_("online"), icon=":material/cloud_done:", color="green", help=_(mode.reason))
        else:
            st.badge(_("offline"), icon=":material/cloud_off:", color="orange", help=_(mode.reason))
        if device_info() is None and not device_error():
            _device_pending()
        else:
            _device_line()


def _served_by(info: dict) -> str:
    """What computes the classifiers' answers: the serving runtime on a CPU in fp32, else PyTorch on the device."""
    if info["device"] == "cpu" and info.get("infer_dtype", "fp32") == "fp32":
        runtime = settings.serving_runtime()
        title = settings.INT8_CHECKED if runtime == "onnx-int8" else settings.RUNTIMES[runtime]
        return _(title)
    return f"PyTorch {info.get('infer_dtype', 'fp32')}"


def _device_line() -> None:
    info = device_info()
    if info is None:
        st.caption(device_error())
        return
    st.caption(
        _("device: **{device}** · {threads} threads · training in {dtype} · classifiers served by {runtime}",
          device=info["device"], threads=info["threads"], dtype=training_precision(info),
          runtime=_served_by(info)),
        help=_("LMLAB_SERVING chooses: onnx-int8 (the default; used for a model only where it gives PyTorch's label "
               "on at least 98 % of its held-out texts and leaves at most a quarter of them too close to call, "
               "else fp32 serves it; where int8's top two classes are within twice the largest error it made on "
               "training texts, fp32 answers instead — the fp32 export, else PyTorch — so its labels are usually fp32's), "
               "onnx (PyTorch's "
               "logits, checked to within 1e-3 at export; about 1e-6 measured) or torch. "
               "A model whose export fails that check, "
               "models from the Hub and models over 150 M parameters are served by PyTorch. Each answer says what "
               "computed it; the Evaluate page's @onnx and @onnx-int8 rows compare them on the held-out split, one "
               "text per pass as served."),
    )  # fmt: skip


@st.fragment(run_every=1.0)
def _device_pending() -> None:
    """Polls until the probe answers, then shows the line in place.

    Never a whole-app ``st.rerun()``: on a fresh server every session would rerun at the moment the probe
    answers, and a button click sent in that moment was lost. The polling stops at the session's next
    rerun, which draws the static line instead of this fragment.
    """
    if device_info() is not None or device_error():
        _device_line()
        return
    st.caption(_("device: detecting…"))
