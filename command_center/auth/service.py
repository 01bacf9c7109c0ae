"""Everything auth needs at run time, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from command_center.auth.config import AuthConfig
from command_center.auth.passwords import Passwords
from command_center.auth.policy import Policy
from command_center.auth.principal import Principal
from command_center.auth.tokens import TokenSigner, load_or_create_secret
from command_center.auth.users import Users
from command_center.ratelimit import RateLimiter
from command_center.store import Store


def signer_for(config: AuthConfig, data_dir: Path) -> TokenSigner:
    secret = config.secret.encode() if config.secret else load_or_create_secret(data_dir)
    return TokenSigner(secret, config.token_ttl_s)


@dataclass
class Auth:
    config: AuthConfig
    signer: TokenSigner
    policy: Policy
    users: Users
    logins: RateLimiter

    @classmethod
    def build(cls, config: AuthConfig, data_dir: Path, store: Store) -> Auth:
        return cls(
            config,
            signer_for(config, data_dir),
            Policy(config.public_metrics),
            Users(store, Passwords(config.hash_time_cost, config.hash_memory_kib)),
            RateLimiter(config.login_per_minute, config.login_burst),
        )

    def issue(self, principal: Principal) -> tuple[str, float]:
        return self.signer.issue(principal)
