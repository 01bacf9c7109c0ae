"""Authentication and authorization: tokens, roles, jurisdictions, the request policy."""

from __future__ import annotations

from command_center.auth.principal import (
    ROLES,
    STAFF,
    WORKER_ACTIONS,
    Principal,
    Role,
    normalize_jurisdiction,
)

__all__ = ["ROLES", "STAFF", "WORKER_ACTIONS", "Principal", "Role", "normalize_jurisdiction"]
