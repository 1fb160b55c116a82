"""Per-partition state: dedupe windows and the delivery ledger. Pure: time comes in as
milliseconds, and every change returns the changelog entries that make it durable.

- A dedupe window opens only when a notification was delivered (never before the send
  succeeds), and lives until its expiry.
- A ledger entry says "this notification (route, event id, scope) was delivered for the
  record at offset N"; it lives until the group's committed offset passes N, after which the
  record is never read again by this group and the entry has done its job.

Memory is bounded per partition: past `max_entries`, the oldest dedupe windows are evicted
(and tombstoned). Ledger entries are never evicted: they are bounded by the records above
the committed offset, which the in-flight limits bound.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, NamedTuple

Kind = Literal["dedupe", "ledger"]


class Entry(NamedTuple):
    """A tuple rather than a frozen dataclass: a restore builds a million of them, and a
    frozen dataclass's __init__ costs several times a tuple's."""

    kind: Kind
    key: str
    route: str
    expires_at_ms: int
    written_at_ms: int
    offset: int = -1  # the input record's offset, for ledger entries

    @property
    def changelog_key(self) -> str:
        return f"{self.kind[0]}:{self.key}"


# (changelog key, entry) to write; None is a tombstone.
Change = tuple[str, Entry | None]


@dataclass
class StoreStats:
    evicted: int = 0
    expired: int = 0


class PartitionStore:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._windows: OrderedDict[str, Entry] = OrderedDict()
        self._ledger: dict[str, Entry] = {}
        self.stats = StoreStats()

    def __len__(self) -> int:
        return len(self._windows) + len(self._ledger)

    # --- dedupe windows ---------------------------------------------------------------------

    def window_open(self, identity: str, now_ms: int) -> bool:
        entry = self._windows.get(identity)
        return entry is not None and entry.expires_at_ms > now_ms

    def open_window(self, identity: str, route: str, window_ms: int, now_ms: int) -> list[Change]:
        entry = Entry("dedupe", identity, route, now_ms + window_ms, now_ms)
        self._windows.pop(identity, None)
        self._windows[identity] = entry
        return [(entry.changelog_key, entry), *self._evict()]

    def extend_window(self, identity: str, window_ms: int, now_ms: int) -> list[Change]:
        """Sliding windows: a suppressed repeat keeps the window open for another window."""
        current = self._windows.get(identity)
        if current is None:
            return []
        entry = Entry("dedupe", identity, current.route, now_ms + window_ms, now_ms)
        self._windows[identity] = entry
        self._windows.move_to_end(identity)
        return [(entry.changelog_key, entry)]

    # --- ledger -------------------------------------------------------------------------------

    def delivered(self, key: str) -> bool:
        return key in self._ledger

    def record_delivery(
        self, key: str, route: str, offset: int, ttl_ms: int, now_ms: int
    ) -> list[Change]:
        entry = Entry("ledger", key, route, now_ms + ttl_ms, now_ms, offset)
        self._ledger[key] = entry
        return [(entry.changelog_key, entry)]

    def committed(self, offset: int) -> list[Change]:
        """The group committed `offset`: records below it are never read again."""
        done = [k for k, e in self._ledger.items() if e.offset < offset]
        return [self._remove_ledger(k) for k in done]

    # --- housekeeping -------------------------------------------------------------------------

    def expire(self, now_ms: int) -> list[Change]:
        windows = [k for k, e in self._windows.items() if e.expires_at_ms <= now_ms]
        ledger = [k for k, e in self._ledger.items() if e.expires_at_ms <= now_ms]
        self.stats.expired += len(windows) + len(ledger)
        changes = [self._remove_window(k) for k in windows]
        changes += [self._remove_ledger(k) for k in ledger]
        return changes

    def restore(self, entry: Entry | None, changelog_key: str, now_ms: int) -> list[Change]:
        """Apply one changelog record read back on assignment (latest wins, as compaction)."""
        kind, _, key = changelog_key.partition(":")
        if entry is None:
            (self._windows if kind == "d" else self._ledger).pop(key, None)
            return []
        if entry.expires_at_ms <= now_ms:
            (self._windows if kind == "d" else self._ledger).pop(key, None)
            return [(changelog_key, None)]
        if entry.kind == "dedupe":
            self._windows.pop(key, None)
            self._windows[key] = entry
            return self._evict()
        self._ledger[key] = entry
        return []

    def _evict(self) -> list[Change]:
        changes: list[Change] = []
        while len(self) > self.max_entries and self._windows:
            key, _ = self._windows.popitem(last=False)
            self.stats.evicted += 1
            changes.append((f"d:{key}", None))
        return changes

    def _remove_window(self, key: str) -> Change:
        del self._windows[key]
        return (f"d:{key}", None)

    def _remove_ledger(self, key: str) -> Change:
        del self._ledger[key]
        return (f"l:{key}", None)
