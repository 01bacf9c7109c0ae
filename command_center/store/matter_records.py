"""The registry's matter records in the store (issue 16)."""

from __future__ import annotations

from typing import Protocol

from command_center.store.access import StoreAccess


class MatterStore(Protocol):
    """What the rest of the code may call (base.Store includes it)."""


class MatterRecords(StoreAccess):
    """Written once for both stores over StoreAccess (see store/records.py)."""
