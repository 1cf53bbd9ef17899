"""A Streamlit session without a browser: the app's own websocket protocol, spoken from Python.

In a classroom the students' browsers run on their own laptops; the server only sees their websocket
messages. On one 2-core machine, 20 headless Chromium pages take more CPU than the server itself, so a
load test made of browsers measures the browsers. This client sends what a browser sends (a rerun
request with the page, the query string and the widgets' values, a button's trigger) and reads what the
server sends back (the elements of the page as protobuf deltas), at a small fraction of a browser's cost.

    session = Session("http://127.0.0.1:8501")
    await session.connect()
    page = await session.open("sentiment")
    page = await session.rerun({"sentiment-text": "A fine film.", "sentiment-run": True})
    page.texts("sentiment-answer")

Widgets are named by their key; the client finds their ids in the last page the server sent.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

TEXT_FIELDS = ("body", "label", "value", "message", "code_text", "text", "delta")


@dataclass
class Element:
    path: tuple[int, ...]
    kind: str
    proto: object
    seconds: float = 0.0  # from the request to this element's arrival

    def text(self) -> str:
        """The visible words of an element (a metric's label and value, a markdown body, an alert…)."""
        parts = []
        for name in TEXT_FIELDS:
            value = getattr(self.proto, name, None)
            if isinstance(value, str) and value:
                parts.append(value)
        return " ".join(parts)


@dataclass
class Page:
    """What one script run drew: its elements by path, its keyed blocks, and its widgets by key."""

    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)
    blocks: dict[str, tuple[int, ...]] = field(default_factory=dict)  # container key -> its path
    widgets: dict[str, tuple[str, str]] = field(default_factory=dict)  # widget key -> (id, element kind)
    status: str = ""  # how the run ended
    seconds: float = 0.0  # from the request to the end of the run

    def add(self, path: tuple[int, ...], message, started: float) -> None:
        kind = message.WhichOneof("type")
        if kind == "add_block":
            key = _key_of(message.add_block.id) or _key_of(message.add_block.tab_container.id)
            if key:
                self.blocks[key] = path
            return
        if kind != "new_element":
            return
        element = message.new_element
        element_kind = element.WhichOneof("type")
        proto = getattr(element, element_kind)
        self.elements[path] = Element(path, element_kind, proto, time.perf_counter() - started)
        widget_id = getattr(proto, "id", "")
        if isinstance(widget_id, str) and _key_of(widget_id):
            self.widgets[_key_of(widget_id)] = (widget_id, element_kind)

    def inside(self, key: str) -> list[Element]:
        block = self.blocks.get(key)
        if block is None:
            return []
        return [self.elements[path] for path in sorted(self.elements) if path[: len(block)] == block]

    def answered(self, key: str, containing: str) -> float | None:
        """Seconds from the request until an element holding these words appeared in a keyed container."""
        times = [element.seconds for element in self.inside(key) if containing in element.text()]
        return min(times) if times else None

    def texts(self, key: str | None = None) -> list[str]:
        chosen = self.inside(key) if key else [self.elements[path] for path in sorted(self.elements)]
        return [text for text in (element.text() for element in chosen) if text]

    def problems(self) -> list[str]:
        """Exception boxes and error messages anywhere on the page."""
        found = []
        for element in self.elements.values():
            if element.kind == "exception":
                found.append("exception: " + (element.proto.type + " " + element.proto.message)[:200])
            elif element.kind == "alert" and element.proto.format == element.proto.ERROR:
                found.append("error: " + element.proto.body[:200])
        return found

    def has(self, kind: str) -> bool:
        return any(element.kind == kind for element in self.elements.values())


def _key_of(element_id: str) -> str:
    """The user's key inside an element id (Streamlit writes it last, after the hash): '' when none."""
    if not element_id.startswith("$$ID-"):
        return ""
    parts = element_id.split("-", 2)
    return parts[2] if len(parts) == 3 else ""


class Session:
    """One browser tab's worth of Streamlit session, over the app's websocket."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.socket = None
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page_name = ""
        self.page_hash = ""
        self.query = ""
        self.values: dict[str, tuple[str, object]] = {}  # widget key -> (value type, value), sent every rerun
        self.last = Page()
        self.durations: list[float] = []  # seconds of every script run this session asked for
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None

    async def connect(self) -> None:
        address = "ws" + self.url[len("http") :] + "/_stcore/stream"
        self.socket = await websockets.connect(
            address, subprotocols=["streamlit"], origin=self.url, max_size=None, open_timeout=60,
            ping_interval=None,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        if self.socket:
            await self.socket.close()

    async def _read(self) -> None:
        async for data in self.socket:
            message = ForwardMsg()
            message.ParseFromString(data)
            await self._inbox.put(message)

    async def open(self, page: str, query: str = "", timeout: float = 120) -> Page:
        """Go to a page (its URL path, '' for the default one), as following a link does."""
        self.page_name, self.query, self.values = page, query, {}
        self.page_hash = self.pages.get(page, "")
        return await self._run({}, timeout)

    async def rerun(self, widgets: dict[str, object], timeout: float = 120) -> Page:
        """Set widgets by key (text: a string; button: True; segmented control: a list) and rerun."""
        triggers = {}
        for key, value in widgets.items():
            if key not in self.last.widgets:
                raise KeyError(f"no widget with key {key!r} on the page (have: {sorted(self.last.widgets)})")
            widget_id, kind = self.last.widgets[key]
            if value is True and kind == "button":
                triggers[widget_id] = ("trigger_value", True)
            elif isinstance(value, list):
                self.values[key] = ("string_array_value", value)
            elif isinstance(value, bool):
                self.values[key] = ("bool_value", value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                self.values[key] = ("double_value" if isinstance(value, float) else "int_value", value)
            else:
                self.values[key] = ("string_value", str(value))
        return await self._run(triggers, timeout)

    async def _run(self, triggers: dict[str, tuple[str, object]], timeout: float) -> Page:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_name = self.page_name
        state.page_script_hash = self.page_hash
        for key, (value_type, value) in self.values.items():
            if key in self.last.widgets:
                self._put(state, self.last.widgets[key][0], value_type, value)
        for widget_id, (value_type, value) in triggers.items():
            self._put(state, widget_id, value_type, value)
        while not self._inbox.empty():  # leftovers of an earlier run
            self._inbox.get_nowait()
        started = time.perf_counter()
        await self.socket.send(message.SerializeToString())
        page = Page()
        deadline = started + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(
                    f"the page {self.page_name or 'home'} did not finish within {timeout:.0f} s"
                )
            incoming = await asyncio.wait_for(self._inbox.get(), remaining)
            kind = incoming.WhichOneof("type")
            if kind == "new_session":
                page = Page()  # a script run begins (again, after an st.rerun)
            elif kind == "delta":
                page.add(tuple(incoming.metadata.delta_path), incoming.delta, started)
            elif kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in incoming.navigation.app_pages}
                self.page_hash = incoming.navigation.page_script_hash
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(incoming.script_finished)
                if status == "FINISHED_EARLY_FOR_RERUN":
                    continue  # a rerun the server started itself (st.rerun, a callback): keep reading
                page.status, page.seconds = status, time.perf_counter() - started
                self.durations.append(page.seconds)
                self.last = page
                return page

    @staticmethod
    def _put(state, widget_id: str, value_type: str, value) -> None:
        widget = state.widget_states.widgets.add()
        widget.id = widget_id
        if value_type == "string_array_value":
            widget.string_array_value.data.extend(value)
        else:
            setattr(widget, value_type, value)
