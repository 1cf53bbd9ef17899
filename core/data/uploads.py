"""User CSV files for training: checked thoroughly, stored in the cache under their content hash.

Every problem gets a message that says what is wrong and what to do: not a CSV, not UTF-8,
too large, a missing column, empty or single-class data, too few rows, too many classes.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from core import settings
from core.data import claims
from core.data.types import Example, Split, stratified
from core.errors import DataError
from core.messages import Message

MAX_BYTES = (
    5 * 1024 * 1024
)  # 5 MB: tens of thousands of sentences; bigger sets belong on a GPU box via the CLI
MIN_ROWS = 20
MIN_PER_CLASS = 4  # at least one for test, one for validation, two to learn from
MAX_CLASSES = 20
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class Upload:
    data_id: str  # sha256 prefix: the stored file's name
    columns: list[str]
    rows: int


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(Message(
            "The file is not UTF-8 text (byte {position} is 0x{value}). Save it as 'CSV UTF-8' in your spreadsheet "
            "program and upload it again.", position=error.start, value=f"{raw[error.start]:02x}"
        )) from None  # fmt: skip


MAX_ROWS = 50_000  # more than a classroom run needs on 2 cores; bigger sets belong to the CLI on a GPU box
MAX_COLUMNS = 50  # a text column and a label column are needed; a wide export is fine, 20,000 columns is not


MAX_CELLS = 500_000  # rows × columns kept in memory: 50,000 rows of 10 columns; a wide, long export is refused
MAX_LINES = 4 * MAX_ROWS  # line breaks in the file (empty lines and line breaks inside quotes count too)


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows, read strictly: a row with more fields than the header is an error.

    pandas would shift such a row's columns (an unquoted comma inside the text moves the label into
    the text's place and silently loses the first part); Python's csv module reads in linear time and
    lets every row be checked. Rows are read one at a time and reading stops at the first cap passed, so a
    file made of line breaks or of many wide rows costs the server no more than a file at the caps.
    """
    import csv

    lines = io.StringIO(text, newline="")
    first = lines.readline()
    if first.count(",") + 1 > MAX_COLUMNS:  # a huge header costs nothing more
        raise DataError(Message("The header has {count} columns; at most {most} are read. Keep the text and label "
                                "columns and delete the rest.", count=f"{first.count(',') + 1:,}", most=MAX_COLUMNS))  # fmt: skip
    lines.seek(0)
    try:
        reader = csv.reader(lines, strict=True)
        header = [name.strip() for name in next(reader, None) or []]
        _check_header(header)
        rows = []
        for row in reader:
            if reader.line_num > MAX_LINES:  # empty lines too (a file of line breaks stops here, not at its end)
                raise DataError(Message("The file has more than {most} lines; at most that many are read. Remove the "
                                        "empty lines, or upload a sample.", most=f"{MAX_LINES:,}"))  # fmt: skip
            if len(row) > len(header):
                raise DataError(Message(
                    "Line {number} has {fields} fields but the header has {columns}: a comma inside the text must be "
                    'inside double quotes ("I liked it, mostly",pos). Fix that line and upload again.',
                    number=reader.line_num, fields=len(row), columns=len(header)))  # fmt: skip
            if any(cell.strip() for cell in row):
                if len(rows) == MAX_ROWS:
                    raise DataError(Message(
                        "The file has more than {most} rows; at most that many are trained on here. Upload a sample "
                        "(or train on all of it with `python -m core.train` on a bigger machine).",
                        most=f"{MAX_ROWS:,}"))  # fmt: skip
                if (len(rows) + 1) * len(header) > MAX_CELLS:
                    raise DataError(Message(
                        "The file has more than {most} cells (rows × columns); at most that many are read. Delete the "
                        "columns you do not need, or upload a sample.", most=f"{MAX_CELLS:,}"))  # fmt: skip
                rows.append(row + [""] * (len(header) - len(row)))
    except csv.Error as error:
        raise DataError(Message("Could not read the file as CSV: {error}. Check the commas and quotes.",
                                error=str(error)[:200])) from None  # fmt: skip
    if not rows:
        raise DataError(Message("The CSV has a header but no rows."))
    return header, rows


def _check_header(header: list[str]) -> None:
    if len(header) < 2:
        raise DataError(
            Message("The CSV needs a header row and at least two columns (a text column and a label column).")
        )
    if len(header) > MAX_COLUMNS:
        raise DataError(Message("The header has {count} columns; at most {most} are read. Keep the text and label "
                                "columns and delete the rest.", count=f"{len(header):,}", most=MAX_COLUMNS))  # fmt: skip
    if len(set(header)) < len(header):
        duplicate = next(name for name in header if header.count(name) > 1)
        raise DataError(Message("The header names the column {name} twice; give every column its own name.",
                                name=repr(duplicate)[:100]))  # fmt: skip


def _frame(text: str):
    import pandas as pd

    header, rows = _rows(text)
    return pd.DataFrame(rows, columns=header, dtype=str)


def _uploads_folder():
    folder = settings.cache_home() / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store(raw: bytes, owner: str | None = None, *, max_bytes: int = MAX_BYTES) -> Upload:
    """Check the bytes are a usable CSV and keep them in the cache; returns its id and columns.

    The file is named by its content hash and written once, atomically (a temporary name, then a
    rename): many sessions may read it while another uploads the same file.
    """
    if not raw:
        raise DataError(Message("The file is empty."))
    if len(raw) > max_bytes:
        raise DataError(Message("The file is {size} MB; the limit is {limit} MB. Upload a sample.",
                                size=f"{len(raw) / 1e6:.1f}", limit=f"{max_bytes / 1e6:.0f}"))  # fmt: skip
    data_id = hashlib.sha256(raw).hexdigest()[:16]
    claims.refuse_past_own_cap(data_id, owner)  # before the file is read: a refused upload costs nothing
    frame = _frame(_decode(raw))
    path = _uploads_folder() / f"{data_id}.csv"
    with claims.LOCK:  # stored and held at once: a classmate's delete of the same bytes cannot fall in between
        claims.drop_lapsed()
        try:
            os.utime(path)  # already stored (a classmate uploaded the same bytes): recently used, the quota keeps it
        except FileNotFoundError:
            temporary = path.with_name(f".{data_id}.{uuid.uuid4().hex[:8]}.tmp")
            temporary.write_bytes(raw)
            os.replace(temporary, path)
            from core.io import keep_newest

            cap = settings.limits().max_uploads  # files some session holds go last, and only past twice the cap
            keep_newest(_uploads_folder(), "*.csv", cap, keep=data_id, protected=set(claims.HOLDERS), hard_cap=2 * cap)
        if owner is not None:
            claims.add(data_id, owner)
    return Upload(data_id, [str(c) for c in frame.columns], len(frame))


def _path(data_id: str):
    if not isinstance(data_id, str) or not data_id.isalnum() or len(data_id) != 16:
        raise DataError(f"Unknown dataset id {data_id!r}.")
    return settings.cache_home() / "datasets" / f"{data_id}.csv"


def hold(data_id: str, owner: str) -> None:
    """Record that ``owner`` (a session) uploaded this file (or had it masked); refused (DataError) past
    ``claims.PER_OWNER`` files, so one session cannot make many files leave the cache last."""
    _path(data_id)  # a real id only
    claims.refuse_past_own_cap(data_id, owner)
    with claims.LOCK:
        claims.add(data_id, owner)


def release(data_id: str, owner: str) -> str:
    """``owner`` gives the file up: "deleted" when nobody else holds it (it is removed from the server), "kept" when
    other sessions uploaded the same bytes (it stays for them), "gone" when it was no longer there."""
    path = _path(data_id)
    with claims.LOCK:
        if not claims.give_up(data_id, owner):
            return "kept"
        try:
            path.unlink()
            return "deleted"
        except FileNotFoundError:
            return "gone"


def exists(data_id: str) -> bool:
    return _path(data_id).is_file()


def _stored_frame(data_id: str):
    try:
        raw = _path(data_id).read_bytes()
    except FileNotFoundError:  # deleted, or dropped by the quota, since it was chosen
        raise DataError(Message("The uploaded file is no longer in the cache; upload it again.")) from None
    return _frame(_decode(raw))


def column(data_id: str, name: str) -> list[str]:
    """One column of a stored upload, as text."""
    frame = _stored_frame(data_id)
    if name not in frame.columns:
        raise DataError(Message("Column {name} not found; the file has {columns}.", name=repr(name)[:100],
                                columns=str(list(frame.columns))[:300]))  # fmt: skip
    return frame[name].astype(str).tolist()


def rewritten(data_id: str, name: str, rewrite: Callable[[str], str]) -> Upload:
    """A copy of a stored upload with one column rewritten (personal data masked, say), stored like any upload; the
    original stays as it was. The copy may be up to twice the upload limit: a mask can be longer than what it hides
    (a@b.cc becomes [e-mail]), and a file near the limit must still get its masked copy."""
    frame = _stored_frame(data_id)
    frame[name] = frame[name].astype(str).map(rewrite)
    return store(frame.to_csv(index=False).encode("utf-8"), max_bytes=2 * MAX_BYTES)


def load(data_id: str, text_column: str, label_column: str) -> tuple[list[Example], tuple[str, ...]]:
    frame = _stored_frame(data_id)
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(Message("Column(s) {missing} not found; the file has {columns}.", missing=str(missing)[:200],
                                columns=str(list(frame.columns))[:300]))  # fmt: skip
    if text_column == label_column:
        raise _same_column()
    texts = frame[text_column].astype(str).str.strip()
    labels = frame[label_column].astype(str).str.strip()
    keep = (texts != "") & (labels != "")
    examples = [Example(t, lab) for t, lab in zip(texts[keep], labels[keep], strict=True)]
    return checked(examples)


def checked(examples: list[Example]) -> tuple[list[Example], tuple[str, ...]]:
    """The examples and their classes, once they are enough to train on: at least ``MIN_ROWS``, two to
    ``MAX_CLASSES`` classes (none differing from another only in case), each with ``MIN_PER_CLASS`` rows."""
    from collections import Counter

    if len(examples) < MIN_ROWS:
        raise DataError(Message("Only {count} rows have both a text and a label; at least {least} are needed.",
                                count=len(examples), least=MIN_ROWS))  # fmt: skip
    counts = Counter(e.label for e in examples)
    if len(counts) > MAX_CLASSES:  # before anything else reads every class
        raise DataError(Message("The label column has {count} different values; at most {most} classes are supported. "
                                "Is it the right column?", count=len(counts), most=MAX_CLASSES))  # fmt: skip
    classes = sorted(counts)
    folded: dict[str, str] = {}
    for label in classes:
        other = folded.setdefault(label.casefold(), label)
        if other != label:
            raise DataError(Message("The labels {first} and {second} differ only in upper/lower case; they would be two "
                                    "classes. Write every label the same way and upload again.",
                                    first=repr(other)[:100], second=repr(label)[:100]))  # fmt: skip
    if len(classes) < 2:
        raise DataError(Message("Every row has the label {label}: a classifier needs at least two classes.",
                                label=repr(classes[0])[:100]))  # fmt: skip
    rare = {c: n for c, n in counts.items() if n < MIN_PER_CLASS}
    if rare:
        raise DataError(Message("Some classes have fewer than {least} rows: {rare}. Add examples or merge classes.",
                                least=MIN_PER_CLASS, rare=str(rare)[:300]))  # fmt: skip
    return examples, tuple(classes)


def stratified_split(examples: list[Example], labels: tuple[str, ...], seed: int, name: str,
                     test_fraction: float = TEST_FRACTION) -> Split:  # fmt: skip
    """A quarter of each class held out (at least one: every class has MIN_PER_CLASS rows)."""
    return stratified(
        examples, labels, test_size=round(test_fraction * len(examples)), seed=seed, dataset=name
    )


HUB_ROWS = 4000  # a Hub dataset's first rows read (streamed): never its whole split
HUB_CHARACTERS = 5_000_000  # and only until their texts hold this many characters (tokenized in the server)
HUB_READ_SECONDS = 120  # a read of those rows that takes longer stops with a message (a slow Hub, a huge first file)


def hub_examples(
    name: str, text_column: str, label_column: str, limit: int = HUB_ROWS
) -> tuple[list[Example], tuple[str, ...]]:
    """A Hub dataset's train split (online only), e.g. "stanfordnlp/sst2", "fancyzhx/ag_news" or
    "nyu-mll/glue/sst2" (repository, then configuration); at most ``limit`` rows."""
    from core.catalog import split_hub_dataset

    path, config = split_hub_dataset(name)  # refused before anything is read, online or not
    if not settings.current_mode().online:
        raise DataError(
            Message("Hub datasets need internet; LM Lab is offline. Use the packaged datasets or a CSV upload.")
        )

    import datasets

    try:  # streamed: only the first ``limit`` rows are read, never the whole split
        data = datasets.load_dataset(path, config or None, split="train", streaming=True)
    except Exception as error:  # the Hub's errors are many and varied; all mean "could not load"
        raise DataError(Message("Could not load {name} from the Hub: {error}", name=repr(name),
                                error=str(error)[:300])) from None  # fmt: skip
    return hub_rows_to_examples(first_rows(data, text_column, label_column, limit), getattr(data, "features", None),
                                text_column, label_column)  # fmt: skip


MAX_HUB_TEXT = 20_000  # characters kept of one Hub text (the training recipes read far fewer tokens)
MAX_HUB_LABEL = 200  # characters kept of a label that is text (a class name; a text column chosen as label is cut)


def _same_column() -> DataError:
    """An upload's or a Hub dataset's text and label read from one column: refused the same way for both."""
    return DataError(Message("Choose two different columns for the text and the label."))


def _no_column(column: str, columns) -> DataError:
    return DataError(Message("The dataset has no column {column}; its columns: {columns}.", column=repr(column),
                             columns=", ".join(map(str, columns))[:1000] or "none"))  # fmt: skip


def _narrow(row: dict, text_column: str, label_column: str) -> dict:
    """One row as LM Lab keeps it: the two chosen columns only, the text cut to ``MAX_HUB_TEXT`` characters (a list
    or a record as its text; a missing value as empty, so the row is dropped like an upload's empty cell), a label that
    is not a class number cut to ``MAX_HUB_LABEL``."""
    for column in (text_column, label_column):
        if column not in row:  # a stream whose columns were not known in advance
            raise _no_column(column, row)
    text, label = ("" if value is None else value for value in (row[text_column], row[label_column]))  # empty: dropped
    text = (text if isinstance(text, str) else str(text))[:MAX_HUB_TEXT]
    if not isinstance(label, int):
        label = (label if isinstance(label, str) else str(label))[:MAX_HUB_LABEL]
    return {text_column: text, label_column: label}


def first_rows(data, text_column: str, label_column: str, limit: int) -> list[dict]:
    """The first ``limit`` rows of a streamed dataset, its two chosen columns only (images, audio and other columns
    are never held), each cut as it arrives (``_narrow``), so 4,000 rows of long documents never sit in memory whole,
    and no more rows once their texts hold ``HUB_CHARACTERS``;
    a column the dataset lacks is refused in words, and so is a read that takes more than ``HUB_READ_SECONDS``."""
    import itertools

    if text_column == label_column:
        raise _same_column()
    names = getattr(data, "column_names", None)
    if names:
        for column in (text_column, label_column):
            if column not in names:
                raise _no_column(column, names)
        data = data.select_columns([text_column, label_column])
    rows, deadline, characters = [], time.monotonic() + HUB_READ_SECONDS, 0
    try:
        for row in itertools.islice(data, limit):
            rows.append(_narrow(row, text_column, label_column))
            characters += len(rows[-1][text_column])
            if characters >= HUB_CHARACTERS:  # long documents: fewer rows, as many characters as an upload's 5 MB
                break
            if len(rows) < limit and time.monotonic() > deadline:  # checked between rows: one slow request (and
                # the dataset's opening) still end on their own timeouts
                raise DataError(Message("Reading the dataset from the Hub stopped after {seconds} s with {rows} of its "
                                        "first {limit} rows read: the Hub answers too slowly. Try again later, or "
                                        "choose a smaller dataset.", seconds=HUB_READ_SECONDS, rows=len(rows),
                                        limit=limit))  # fmt: skip
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001 - a stream breaks in many ways; all mean "could not read"
        raise DataError(Message("Could not read the dataset's rows from the Hub: {error}",
                                error=str(error)[:300])) from None  # fmt: skip
    return rows


def hub_rows_to_examples(rows: list[dict], features, text_column: str, label_column: str):
    """The examples of a Hub dataset's rows; a column the rows lack is refused in words, naming the ones they have."""
    present = list(rows[0]) if rows else []
    for column in (text_column, label_column):
        if column not in present:
            raise _no_column(column, present)
    names = getattr((features or {}).get(label_column), "names", None)
    if names and any(not isinstance(row[label_column], int) or not 0 <= row[label_column] < len(names) for row in rows):
        raise DataError(Message("Some rows of {column} hold no class number (-1 marks unlabelled rows in Hub datasets); "
                                "choose a split or dataset whose rows all carry a label.", column=repr(label_column)))  # fmt: skip
    try:
        examples = [Example(str(row[text_column]), names[row[label_column]] if names else str(row[label_column]))
                    for row in rows]  # fmt: skip
    except (IndexError, TypeError) as error:
        raise DataError(Message("The label column {column} does not hold the dataset's class numbers: {error}",
                                column=repr(label_column), error=str(error)[:200])) from None  # fmt: skip
    return checked([e for e in examples if e.text.strip() and e.label.strip()])  # the same checks as an upload's
