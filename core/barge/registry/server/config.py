"""``barge registry serve`` settings: command line over a TOML file
(``--config``) over defaults. The file uses the flag names::

    addr = "127.0.0.1:5000"
    root = "/var/lib/barge-registry"
    auth = "token"               # none | basic | token
    htpasswd = "/etc/barge/registry.htpasswd"
    realm = "barge-registry"     # Basic realm; for token: the token URL
    service = "barge-registry"
    anonymous = ["pull"]         # token: actions granted without credentials
    token_secret = "/etc/barge/registry.secret"
    token_expiry = 300
    tls_cert = "cert.pem"
    tls_key = "key.pem"
    delete = true
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

AUTH_KINDS = ("none", "basic", "token")
DEFAULT_ROOT = Path("/var/lib/barge-registry")
DEFAULT_SERVICE = "barge-registry"


class ConfigError(ValueError):
    pass


@dataclass
class ServerConfig:
    addr: str = "127.0.0.1:5000"
    root: Path = DEFAULT_ROOT
    auth: str = "none"
    htpasswd: Path | None = None
    realm: str | None = None
    service: str = DEFAULT_SERVICE
    anonymous: list[str] = field(default_factory=list)
    token_secret: Path | None = None
    token_expiry: int = 300
    tls_cert: Path | None = None
    tls_key: Path | None = None
    delete: bool = True

    def check(self) -> "ServerConfig":
        if self.auth not in AUTH_KINDS:
            raise ConfigError(f"unknown auth {self.auth!r}: use one of {', '.join(AUTH_KINDS)}")
        if self.auth == "basic" and self.htpasswd is None:
            raise ConfigError("--auth basic needs --htpasswd FILE")
        if self.auth == "token" and self.htpasswd is None and not self.anonymous:
            raise ConfigError("--auth token needs --htpasswd FILE (or anonymous access)")
        if self.htpasswd is not None and not Path(self.htpasswd).is_file():
            raise ConfigError(f"htpasswd file {self.htpasswd} not found")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        if self.htpasswd is not None and self.auth == "none":
            self.auth = "basic"
        bad = set(self.anonymous) - {"pull", "push", "delete", "*"}
        if bad:
            raise ConfigError(f"unknown anonymous actions: {', '.join(sorted(bad))}")
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"invalid --addr {self.addr!r}: use HOST:PORT")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


_PATHS = {"root", "htpasswd", "token_secret", "tls_cert", "tls_key"}


def load(path: Path | None = None, **overrides) -> ServerConfig:
    """Defaults, then the file, then the non-None ``overrides`` (the flags)."""
    values: dict = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        known = {f.name for f in fields(ServerConfig)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"{path}: unknown settings: {', '.join(sorted(unknown))}")
        base = Path(path).parent
        for key in _PATHS & set(values):
            values[key] = base / Path(values[key]).expanduser()
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in _PATHS & set(values):
        values[key] = Path(values[key])
    if isinstance(values.get("anonymous"), str):
        values["anonymous"] = [a for a in values["anonymous"].split(",") if a]
    return ServerConfig(**values).check()
