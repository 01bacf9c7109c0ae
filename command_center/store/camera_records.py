"""The registry's camera records in the store (issue 16)."""

from __future__ import annotations

from typing import Protocol

from command_center.store.access import StoreAccess


class CameraStore(Protocol):
    """What the rest of the code may call (base.Store includes it)."""


class CameraRecords(StoreAccess):
    """Written once for both stores over StoreAccess (see store/records.py)."""
