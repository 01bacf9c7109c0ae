"""Authentication settings: tokens, sessions, password hashing, login throttling."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SessionCaps(BaseModel):
    """Live sessions one user may hold at once, per kind; one more is refused (429)."""

    model_config = ConfigDict(extra="forbid")

    ws: int = Field(default=20, ge=1, description="websocket connections (/ws): pages open one each")
    mjpeg: int = Field(default=12, ge=1, description="live MJPEG streams (the wall's camera tiles)")
    whep: int = Field(default=6, ge=1, description="WebRTC viewing sessions (WHEP)")
    whip: int = Field(default=4, ge=1, description="live publishes under a user's token (a worker's phone, staff cameras)")


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC key for tokens; unset: generated once and kept in DATA_DIR/auth.secret",
    )
    token_ttl_s: float = Field(default=12 * 3600, gt=0, description="a token's lifetime: one duty shift by default")
    public_metrics: bool = Field(default=False, description="serve /metrics without a token; off: an admin token (camera ids are in it)")
    login_per_minute: float = Field(default=10.0, gt=0, description="failed sign-ins per client address")
    login_burst: int = Field(default=5, ge=1)
    login_account_per_minute: float = Field(
        default=6.0, gt=0, description="failed sign-ins per account, whatever the address (rotating addresses gain nothing)"
    )
    login_account_burst: int = Field(default=10, ge=1)
    login_all_per_minute: float = Field(
        default=30.0, gt=0, description="failed sign-ins of everyone together: each costs an argon2 hash, so a flood from"
        " ever new addresses for ever new names is bounded too (successful sign-ins are not counted)",
    )
    login_all_burst: int = Field(default=10, ge=1)
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    hash_time_cost: int = Field(default=3, ge=1)
    hash_memory_kib: int = Field(default=65536, ge=8)
    hash_threads: int | None = Field(
        default=None, ge=1, le=64, description="argon2 runs on its own threads, at most this many at once; unset: half the CPUs, 1 to 4"
    )
    hash_queue: int = Field(
        default=16, ge=0, description="sign-ins waiting for an argon2 thread; past this a sign-in is answered 503 at once"
    )
    max_sessions_per_user: SessionCaps = Field(default_factory=SessionCaps)
    session_check_s: float = Field(
        default=1.0, gt=0, le=30, description="how long an account's state (disabled, token_version) is cached per node"
    )
    session_sweep_s: float = Field(
        default=0.5, gt=0, le=30, description="how often live sessions are checked for an expired or revoked token"
    )
