"""The grid base data's settings (`basedata:` in the config) and its sealing key.

The key file is outside the database (basedata.protect): a relative `key_file` is taken
under `server.data_dir`, so the default is ./var/keys/basedata.key and a test's data dir
holds its own key. $CC_BASEDATA_KEY overrides it (an operator's or a CI's one-off).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from basedata.care import CarePolicy
from basedata.cycles import CheckCycles
from basedata.protect import KEY_BYTES, FieldKey, FieldKeyError
from basedata.retention import RetentionPolicy
from basedata.verify_tasks import VerifyTaskPolicy
from basedata.watermark import ExportPolicy

if TYPE_CHECKING:
    from command_center.store.basedata_records import BaseDataRecords

KEY_ENV = "CC_BASEDATA_KEY"
# The roles that read base data at all (auth/policy.py's rule): only they can be allowed to
# reveal; an emergency team has no access to who lives where.
RevealRole = Literal["officer", "worker", "admin"]


def _admins() -> list[RevealRole]:
    return ["admin"]


def _care_roles() -> list[RevealRole]:
    return ["officer", "admin", "worker"]


class BaseDataConfig(BaseModel):
    """Base data (四标四实): where its key is, its re-check cycles, who reveals personal fields."""

    model_config = ConfigDict(extra="forbid")

    key_file: Path = Field(
        default=Path("keys/basedata.key"),
        description="the sealing key of ID numbers and phones; relative: under server.data_dir"
        f" (${KEY_ENV} overrides it). Made on first use; keep a copy apart from the database's backups",
    )
    cycles: CheckCycles = Field(default_factory=CheckCycles, description="days between re-checks (基础数据定期核实)")
    reveal_roles: list[RevealRole] = Field(
        default_factory=_admins,
        description="roles that may reveal a person's ID number or phone (each reveal is audited); others see them masked",
    )
    # 特殊群体台账 (api/care.py): membership of a group is sensitive, so its own list of roles.
    care: CarePolicy = Field(default_factory=CarePolicy, description="visit frequency per group; when an overdue visit goes up a level")
    care_roles: list[RevealRole] = Field(
        default_factory=_care_roles,
        description="roles that see the special-group ledger (reads audited); a worker only the people paired with them"
        " or living in their grids",
    )
    care_sweep_s: float = Field(default=300, ge=1, le=86_400, description="seconds between sweeps for overdue visits")
    # 基础数据定期核实: tasks opened ahead of each record's next check, counted in the worker's KPIs
    # (basedata/verify_tasks.py says why people are not a task of their own by default).
    verify_tasks: VerifyTaskPolicy = Field(
        default_factory=VerifyTaskPolicy, description="re-check tasks: lead days, sweep interval, kinds that make tasks"
    )
    # Exports (api/basedata_export.py: watermarked, audited) and deletion by rule (basedata/retention.py).
    export: ExportPolicy = Field(default_factory=ExportPolicy, description="who may export base data, and how many records at most")
    retention: RetentionPolicy = Field(
        default_factory=RetentionPolicy, description="days moved-out people and closed care visits are kept, then deleted"
    )

    def key_path(self, data_dir: Path) -> Path:
        """The key file: $CC_BASEDATA_KEY, else `key_file` (a relative one under `data_dir`)."""
        override = os.environ.get(KEY_ENV)
        if override:
            return Path(override)
        return self.key_file if self.key_file.is_absolute() else data_dir / self.key_file


def base_data_key(records: BaseDataRecords, path: Path, dry_run: bool = False) -> FieldKey:
    """The sealing key in `path`, made on first use, but never while sealed values are
    stored (they were sealed under the lost key: a new one would make them unreadable for
    good). A dry run uses a throwaway key."""
    if path.exists():
        return FieldKey.load(path)
    if records.has_sealed():
        raise FieldKeyError(f"{path}: no key file, but the store holds sealed fields: restore the key file")
    if dry_run:
        return FieldKey(os.urandom(KEY_BYTES))
    try:
        return FieldKey.generate(path)
    except FieldKeyError:
        # Another process or thread made it between the check and here: use theirs.
        return FieldKey.load(path)
    except OSError as error:  # an unwritable data dir: reported like any other key problem
        raise FieldKeyError(f"{path}: cannot create the key file ({error.strerror or error})") from None
