"""The whole configuration: each package's models, composed, validated at load.

`load_config` reports every problem at once, each with the file, the key path and
the reason, and treats an unknown key as an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from basedata.attendance import AttendanceConfig
from command_center.api.limits import LimitsConfig
from command_center.auth.config import AuthConfig
from command_center.basedata_config import BaseDataConfig
from command_center.config_checks import check_references, validation_errors
from command_center.map_config import HttpUrl, MapConfig
from command_center.mqtt.config import MqttConfig
from dispatch.config import CityConfig, DispatchConfig
from residents.config import ResidentsConfig
from residents.market_config import CommunityConfig
from residents.media import ReportMediaConfig
from streams.config import SourceConfig
from streams.ptz import PtzConfig
from streams.webrtc import WebRTCConfig
from vision.config import DetectorConfig, EvidenceConfig, RulesConfig, ZoneConfig

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("./var")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (IPs or CIDRs) whose X-Forwarded-For/-Proto are believed; empty: none",
    )
    public_url: HttpUrl | None = Field(
        default=None, description="the address citizens reach this server at (the grid cards' QR codes); unset: the request's own"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item.strip(), strict=False)  # ValueError names the bad one
        return value


class CameraConfig(SourceConfig):
    zones: list[ZoneConfig] = Field(default_factory=list)
    # Where it looks and where it stands in the grid map: the console draws the view cone,
    # and a district admin manages the cameras filed under their district's grids.
    heading: float | None = Field(default=None, ge=0, le=360, description="degrees clockwise from north")
    fov_deg: float | None = Field(default=None, ge=1, le=360, description="horizontal field of view in degrees")
    # Video verification (command_center/coverage.py) asks a camera whose view holds a case's point.
    range_m: float | None = Field(
        default=None, gt=0, le=5000, description="how far it sees things well enough to check them, metres; unset: 80"
    )
    grid_code: str | None = Field(default=None, pattern=r"^[0-9]{1,15}$", description="the grid it is filed under")
    thresholds: dict[str, float] | None = Field(
        default=None, description="label (or default) → minimum detection score at this camera; unset: the detector's"
    )
    mobile: bool | None = Field(
        default=None,
        description="telemetry may move it (a drone, a phone); unset: true for kind drone or a sim://drone feed."
        " A fixed camera's position never follows telemetry",
    )
    # Which models watch it (docs/MODELS_PER_CAMERA.md): names of `detectors:`, `default` being `detector:`.
    models: list[str] | None = Field(
        default=None, min_length=1, max_length=8, description="named detectors run on this camera; unset: its group's, else [default]"
    )
    group: str | None = Field(default=None, min_length=1, description="a camera_groups entry whose models it shares")
    ptz: PtzConfig | None = Field(default=None, description="a pan-tilt-zoom head: {kind: sim} or {kind: onvif, url, user, password}")

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a model is named twice")
        return value

    @field_validator("thresholds")
    @classmethod
    def _scores(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for label, score in (value or {}).items():
            if not label or not 0.0 <= score <= 1.0:
                raise ValueError(f"threshold for {label!r} must be within 0..1, got {score}")
        return value

    @model_validator(mode="after")
    def _mobile_default(self) -> CameraConfig:
        if self.mobile is None:
            self.mobile = self.kind == "drone" or self.url.lower().startswith("sim://drone")
        return self


class WorkersConfig(_Strict):
    """Grid workers' terminals; simulated workers close the loop in the demo (accept,
    handle and report back)."""

    live_video: bool = Field(
        default=True, description="a signed-in worker may go live: publishing whip://worker-<own id> adds that camera"
    )
    simulate: bool = False
    accept_after_s: float = Field(default=4.0, ge=0)
    feedback_after_s: float = Field(default=12.0, ge=0)
    close_after_s: float = Field(default=6.0, ge=0, description="the simulated officer's check after feedback")


class CitizenConfig(_Strict):
    """Public citizen reporting (Open311 and the web form)."""

    reports_per_minute: float = Field(default=5.0, gt=0, description="per client address")
    burst: int = Field(default=5, ge=1)
    max_photo_mb: float = Field(default=5.0, gt=0)


class HubConfig(_Strict):
    history: int = Field(default=1000, ge=1)
    queue_size: int = Field(default=256, ge=1)
    heartbeat_s: float = Field(default=15.0, gt=0)
    max_channels_per_client: int = Field(
        default=64, ge=1, le=10_000, description="channels one websocket may subscribe (per message and in all)"
    )


class ShardingConfig(_Strict):
    """Cameras spread over `command-center worker` processes by leases in Redis (the bus's)."""

    enabled: bool = Field(default=False, description="serve watches no camera itself: workers do")
    lease_ttl_s: float = Field(default=5.0, gt=0, description="a dead worker's cameras are free again after this")
    heartbeat_s: float = Field(default=1.0, gt=0)
    scan_s: float = Field(default=1.0, gt=0, description="how often a worker looks for unowned cameras")

    @model_validator(mode="after")
    def _heartbeat_within_ttl(self) -> ShardingConfig:
        if self.heartbeat_s * 2 >= self.lease_ttl_s:
            raise ValueError("heartbeat_s must be under half of lease_ttl_s, or leases lapse between renewals")
        return self


class RetentionConfig(_Strict):
    """How long personal data is kept, swept every `every_s` (command_center/retention.py).
    Days; 0 keeps forever. Snapshots and clips follow `evidence.max_age_days` and `evidence.max_gb`."""

    every_s: float = Field(default=60.0, gt=0, description="seconds between sweeps")
    reports_days: float = Field(default=365.0, ge=0, description="citizen reports (rows and their photos)")
    uploads_days: float = Field(default=365.0, ge=0, description="citizen photos under uploads/, by file age")
    photos_days: float = Field(default=730.0, ge=0, description="case photos (workers' feedback) under photos/")
    audit_ip_days: float = Field(default=90.0, ge=0, description="client addresses in the audit log are blanked after this")


_Role = Literal["officer", "worker", "emergency", "admin"]


def _blurred_roles() -> list[_Role]:
    return ["worker"]


class PrivacyConfig(_Strict):
    """Faces and licence plates blurred in evidence (snapshots, clips, case photos) for
    roles that do not need identities; officers and admins enforce, so see originals."""

    blur: bool = Field(default=True, description="blur for the roles below; false serves originals to everyone")
    blur_for_roles: list[_Role] = Field(default_factory=_blurred_roles, description="roles that get blurred evidence")
    faces: bool = True
    plates: bool = True
    view_audit_every_s: float = Field(default=300.0, ge=0, description="one evidence.view audit row per user and item per this")


class VerificationConfig(_Strict):
    """Video verification (视频核查, command_center/verification.py): per matter the catalogue
    says whether a camera re-checks a handled video case (`verify`); these are the service's
    own settings."""

    enabled: bool = Field(default=True, description="false: no camera re-checks anything")
    watch: bool = Field(default=True, description="watch a dispatched video case: flag it if the problem goes away by itself")
    watch_every_s: float = Field(default=2.0, gt=0, le=60, description="a watch looks this often (spares the detector)")
    watch_hold_s: float = Field(default=60.0, gt=0, le=3600, description="gone this long: flagged self_resolved")
    watch_timeout_s: float = Field(default=4 * 3600.0, gt=0, le=7 * 86400.0)
    recur_radius_m: float = Field(default=30.0, gt=0, le=1000, description="a closed case this near of the same matter: recurred")
    recur_days: float = Field(default=7.0, gt=0, le=365, description="...closed within this many days")
    pad: float = Field(default=0.3, ge=0, le=2, description="the incident box grown by this share of its size on each side")


class IotConfig(_Strict):
    """What an IoT alarm does beside its incident (command_center/iot_cameras.py): the fixed
    cameras nearest the device are linked, each asked for a snapshot, and raised in incident mode."""

    camera_radius_m: float = Field(default=300.0, ge=0, le=5000, description="cameras within this of the device are linked; 0: none")
    cameras_max: int = Field(default=3, ge=0, le=10, description="at most this many, nearest first")
    grab_timeout_s: float = Field(default=5.0, gt=0, le=60, description="a camera that sends no frame within this is skipped")


class CameraGroupConfig(_Strict):
    """Settings cameras share by naming the group (`group:`); a camera's own win."""

    models: list[str] = Field(min_length=1, max_length=8, description="named detectors its cameras run")


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: str = "sqlite:///var/command-center.db"
    bus: str = "memory"
    city: CityConfig = Field(default_factory=CityConfig)
    catalog: Path = CONFIG_DIR / "matters.yaml"
    plans: Path = CONFIG_DIR / "plans.yaml"  # response plans (预案) for emergency mode
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    detectors: dict[str, DetectorConfig] = Field(
        default_factory=dict, description="more models by name, for cameras' `models:` (`detector:` is `default`)"
    )
    camera_groups: dict[str, CameraGroupConfig] = Field(default_factory=dict)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    workers: WorkersConfig = Field(default_factory=WorkersConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    sharding: ShardingConfig = Field(default_factory=ShardingConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    citizen: CitizenConfig = Field(default_factory=CitizenConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    webrtc: WebRTCConfig = Field(default_factory=WebRTCConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    verification: VerificationConfig = Field(default_factory=VerificationConfig)
    basedata: BaseDataConfig = Field(default_factory=BaseDataConfig)  # 四标四实: key file, cycles, who reveals
    attendance: AttendanceConfig = Field(default_factory=AttendanceConfig)  # 考勤: track retention, lateness grace
    mqtt: MqttConfig = Field(default_factory=MqttConfig)  # IoT devices over MQTT: intake and export (command_center/mqtt/)
    iot: IotConfig = Field(default_factory=IotConfig)  # an IoT alarm's nearby cameras (iot_cameras.py)
    residents: ResidentsConfig = Field(default_factory=ResidentsConfig)  # residents' sign-in: SMS sender, limits (docs/RESIDENTS.md)
    community: CommunityConfig = Field(default_factory=CommunityConfig)  # 服务超市 categories, 论坛 sensitive words (docs/RESIDENTS.md)
    report_media: ReportMediaConfig = Field(default_factory=ReportMediaConfig)  # citizens' media, duplicates, Open311 (docs/RESIDENTS.md)
    cameras: list[CameraConfig] = Field(default_factory=list)

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise ValueError("expected sqlite:///PATH or postgresql://...")
        return value

    @field_validator("bus")
    @classmethod
    def _bus_url(cls, value: str) -> str:
        if value == "memory":
            return value
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError("expected 'memory' or redis://HOST:PORT/DB[?prefix=cc&maxlen=100000]")
        # Only the URL's shape: no connection is made while validating.
        from command_center.bus.redis_options import parse_redis_url

        parse_redis_url(value)
        return value

    @model_validator(mode="after")
    def _unique_cameras(self) -> Config:
        seen: set[str] = set()
        for cam in self.cameras:
            if cam.id in seen:
                raise ValueError(f"duplicate camera id {cam.id!r}")
            seen.add(cam.id)
        return self

    @field_validator("detectors")
    @classmethod
    def _detector_names(cls, value: dict[str, DetectorConfig]) -> dict[str, DetectorConfig]:
        for name in value:
            if name == "default" or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"bad detector name {name!r}: letters, digits, - and _; 'default' is `detector:`")
        return value

    @model_validator(mode="after")
    def _sharding_needs_redis(self) -> Config:
        if self.sharding.enabled and self.bus == "memory":
            raise ValueError("sharding.enabled needs a shared bus: set bus: redis://HOST:PORT/DB")
        return self


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_config(raw: Any, source: str = "<config>", base_dir: Path | None = None) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: (top level): expected a mapping of keys, got {type(raw).__name__}"])
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_errors(source, exc)) from None
    _resolve_paths(config, base_dir or Path.cwd())
    errors = check_references(config, source)
    if errors:
        raise ConfigError(errors)
    return config


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        raise ConfigError([f"{path}: {where}: invalid YAML: {getattr(exc, 'problem', exc)}"]) from None
    return parse_config(raw, str(path), path.resolve().parent)


def _resolve_paths(config: Config, base_dir: Path) -> None:
    """Relative paths are taken from the working directory, else from the config's folder."""

    def resolve(p: Path) -> Path:
        if p.is_absolute() or p.exists():
            return p
        beside = base_dir / p
        return beside if beside.exists() else p

    config.catalog = resolve(config.catalog)
    config.plans = resolve(config.plans)
    if config.city.geojson is not None:
        config.city.geojson = resolve(config.city.geojson)
    for detector in (config.detector, *config.detectors.values()):
        if detector.model is not None:
            detector.model = resolve(detector.model)
