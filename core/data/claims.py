"""Which sessions hold which stored uploads, in this process.

Uploads are named by their content, so a class handed one file stores it once. The server remembers which sessions
uploaded each file (or had it masked), so that one student's delete takes back their own claim, not the class's copy;
files some session holds leave the cache last; and one session holds at most ``PER_OWNER`` files, so one student
cannot push the class's uploads out. A session that ended says nothing, so a claim lasts ``CLAIM_SECONDS`` after
its session was last seen (uploading, holding, or opening the Train page with files of its own; a session that
comes back renews its claims): a lesson never loses one, and the claims of tabs closed one day have lapsed by the
next instead of keeping their files last in the queue. A lapsed claim deletes nothing: the file stays until the
upload cap pushes it out.
"""

from __future__ import annotations

import threading
import time

from core.errors import DataError
from core.messages import Message

PER_OWNER = 6  # files one session may hold (its uploads and masked copies)
CLAIM_SECONDS = 8 * 3600  # a school day

HOLDERS: dict[str, set[str]] = {}  # file id → the sessions holding it
LOCK = threading.Lock()  # held around every change of HOLDERS, and by the store around a file's write or delete
_SEEN: dict[str, float] = {}  # session → when it was last seen (_clock)
_clock = time.monotonic


def drop_lapsed() -> None:
    """Forget the claims of sessions not seen for ``CLAIM_SECONDS`` (the caller holds ``LOCK``)."""
    now = _clock()
    lapsed = {owner for owner, when in _SEEN.items() if now - when > CLAIM_SECONDS}
    if not lapsed:
        return
    for data_id in list(HOLDERS):
        HOLDERS[data_id] -= lapsed
        if not HOLDERS[data_id]:
            del HOLDERS[data_id]
    for owner in lapsed:
        del _SEEN[owner]


def add(data_id: str, owner: str) -> None:
    """``owner`` holds the file from now on (the caller holds ``LOCK``)."""
    drop_lapsed()
    HOLDERS.setdefault(data_id, set()).add(owner)
    _SEEN[owner] = _clock()


def renew(owner: str, data_ids: set[str]) -> None:
    """``owner`` (a session) is still here with these files of its own: its claims on them last another
    ``CLAIM_SECONDS``, and claims that lapsed while it was away come back (the file may be gone: harmless)."""
    if not data_ids:
        return
    with LOCK:
        drop_lapsed()
        for data_id in list(data_ids)[:PER_OWNER]:
            HOLDERS.setdefault(data_id, set()).add(owner)
        _SEEN[owner] = _clock()


def refuse_past_own_cap(data_id: str, owner: str | None) -> None:
    """DataError when ``owner`` already holds ``PER_OWNER`` files other than this one."""
    if owner is None:
        return
    with LOCK:
        drop_lapsed()
        held = sum(1 for other, holders in HOLDERS.items() if owner in holders and other != data_id)
    if held >= PER_OWNER:
        raise DataError(Message("You have {count} files on the server already (uploads and masked copies); delete "
                                "them with the button below the uploader before you upload another.", count=held))  # fmt: skip


def held_by(owner: str) -> set[str]:
    """The files ``owner`` holds."""
    with LOCK:
        drop_lapsed()
        return {data_id for data_id, holders in HOLDERS.items() if owner in holders}


def hand_over(old: str, new: str) -> None:
    """``old``'s claims become ``new``'s (a student took their earlier session's runs back): no file is deleted."""
    with LOCK:
        drop_lapsed()
        for holders in HOLDERS.values():
            if old in holders:
                holders.discard(old)
                holders.add(new)
        if _SEEN.pop(old, None) is not None or new in _SEEN:
            _SEEN[new] = _clock()


def give_up(data_id: str, owner: str) -> bool:
    """``owner`` no longer holds the file; True when nobody does now (the caller holds ``LOCK``)."""
    holders = HOLDERS.get(data_id, set())
    holders.discard(owner)
    if holders:
        return False
    HOLDERS.pop(data_id, None)
    return True
