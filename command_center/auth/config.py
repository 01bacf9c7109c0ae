"""Authentication settings: tokens, password hashing, login throttling."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        None,
        min_length=32,
        description="HMAC key for tokens; unset: generated once and kept in DATA_DIR/auth.secret",
    )
    token_ttl_s: float = Field(12 * 3600, gt=0, description="a token's lifetime: one duty shift by default")
    public_metrics: bool = Field(False, description="serve /metrics without a token; off: an admin token (camera ids are in it)")
    login_per_minute: float = Field(10.0, gt=0, description="login attempts per client address")
    login_burst: int = Field(5, ge=1)
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    hash_time_cost: int = Field(3, ge=1)
    hash_memory_kib: int = Field(65536, ge=8)
