"""Registry credentials in the docker CLI's ``config.json``, and ``X-Registry-Auth``.

The file is Docker's (``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``), so ``barge login`` and ``docker login`` share
it: ``{"auths": {"127.0.0.1:5000": {"auth": base64("user:pass")}}}``,
Docker Hub under ``https://index.docker.io/v1/``. Credential helpers are
honoured as docker does: ``credHelpers[registry]``, else ``credsStore``,
run as ``docker-credential-<name> get|store|erase`` (the file then keeps
only an empty entry per registry). Keys of the file barge does not know
are kept as they are. Writes go to a temporary file beside it, renamed
into place, mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from barge.client.errors import ClientError

INDEX_SERVER = "https://index.docker.io/v1/"
DEFAULT_NAMESPACE = "docker.io"
ENV_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"
HELPER_PREFIX = "docker-credential-"
TOKEN_USERNAME = "<token>"
NOT_FOUND = "credentials not found in native keychain"
#: AuthConfig's JSON fields in Go's declaration order (api/types/registry).
AUTH_FIELDS = ("username", "password", "auth", "email", "serveraddress", "identitytoken", "registrytoken")


class CredentialsError(ClientError):
    """Reading or writing credentials failed (file or helper)."""


@dataclass(frozen=True)
class AuthConfig:
    """Docker's AuthConfig as the CLI keeps it (decoded: no ``auth`` field)."""

    username: str = ""
    password: str = ""
    server_address: str = ""
    identity_token: str = ""
    registry_token: str = ""
    email: str = ""

    def to_json(self) -> dict[str, str]:
        """The JSON AuthConfig (``POST /auth`` body), empty fields left out."""
        values = {"username": self.username, "password": self.password, "email": self.email,
                  "serveraddress": self.server_address, "identitytoken": self.identity_token,
                  "registrytoken": self.registry_token}
        return {k: values[k] for k in AUTH_FIELDS if values.get(k)}

    def header(self) -> str:
        """``X-Registry-Auth``: base64url of the JSON AuthConfig, as the docker CLI encodes it."""
        return encode_header(self.to_json())


def encode_header(doc: dict) -> str:
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


# ---------------------------------------------------------------- names

def config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path(os.path.expanduser("~")) / ".docker"


def config_path() -> Path:
    return config_dir() / "config.json"


def convert_to_hostname(address: str) -> str:
    """``https://host:5000/v2/`` -> ``host:5000`` (docker's ``ConvertToHostname``)."""
    if "://" in address:
        try:
            parts = urlsplit(address)
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if host:
            if ":" in host:  # IPv6 literal
                host = f"[{host}]"
            return f"{host}:{port}" if port else host
    return address.split("/", 1)[0]


def auth_key(domain: str) -> str:
    """The config key of a registry domain: Docker Hub's is the v1 index URL."""
    return INDEX_SERVER if domain in ("docker.io", "index.docker.io") else domain


def search_key(term: str) -> str:
    """The registry a search term addresses (docker's ``splitReposSearchTerm``)."""
    head, sep, _ = term.partition("/")
    if not sep or ("." not in head and ":" not in head and head != "localhost"):
        return INDEX_SERVER
    return auth_key(head)


def login_server(server: str | None) -> tuple[str, bool]:
    """The key ``login``/``logout`` use for SERVER, and whether it is Docker Hub."""
    if not server or server == DEFAULT_NAMESPACE or server == INDEX_SERVER:
        return INDEX_SERVER, True
    return convert_to_hostname(server), False


# ---------------------------------------------------------------- the file

def _decode_auth(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise CredentialsError(f"illegal base64 data in auth configuration: {exc}") from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise CredentialsError("Invalid auth configuration file")
    return user, password.strip("\x00")


def _encode_auth(user: str, password: str) -> str:
    if not user and not password:
        return ""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class ConfigFile:
    """``config.json``: its auth entries, decoded, and every other key as read."""

    def __init__(self, path: Path, raw: dict | None = None, broken: str = ""):
        self.path = path
        self.raw: dict = dict(raw or {})
        #: why the file could not be read; such a file is never overwritten
        self.broken = broken
        self.auths: dict[str, AuthConfig] = {}
        for key, entry in (self.raw.get("auths") or {}).items():
            if not isinstance(entry, dict):
                raise CredentialsError(f"invalid auth entry for {key} in {path}")
            user, password = entry.get("username", ""), entry.get("password", "")
            if entry.get("auth"):
                user, password = _decode_auth(entry["auth"])
            self.auths[key] = AuthConfig(username=user, password=password, server_address=key,
                                         identity_token=entry.get("identitytoken", ""),
                                         registry_token=entry.get("registrytoken", ""),
                                         email=entry.get("email", ""))

    @classmethod
    def load(cls, path: Path | None = None) -> "ConfigFile":
        path = path or config_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise CredentialsError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
        if not text.strip():
            return cls(path)
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise CredentialsError(f"loading config file: {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise CredentialsError(f"loading config file: {path}: expected a JSON object")
        return cls(path, raw)

    @classmethod
    def load_or_warn(cls, path: Path | None = None) -> "ConfigFile":
        """As docker reads it for pull, push and search: a broken file is a warning, not an error."""
        try:
            return cls.load(path)
        except CredentialsError as exc:
            sys.stderr.write(f"WARNING: Error {exc}\n")
            return cls(path or config_path(), broken=str(exc))

    @property
    def detach_keys(self) -> str:
        """``detachKeys``: the docker CLI's default for attach, exec, run and start when no ``--detach-keys``."""
        value = self.raw.get("detachKeys")
        return value if isinstance(value, str) else ""

    @property
    def creds_store(self) -> str:
        return str(self.raw.get("credsStore") or "")

    @property
    def cred_helpers(self) -> dict[str, str]:
        helpers = self.raw.get("credHelpers") or {}
        return helpers if isinstance(helpers, dict) else {}

    def helper_for(self, key: str) -> str:
        if key and key in self.cred_helpers:
            return str(self.cred_helpers[key])
        return self.creds_store

    def store_for(self, key: str) -> "FileStore | HelperStore":
        helper = self.helper_for(key)
        return HelperStore(self, helper) if helper else FileStore(self)

    # -- the operations the commands use
    def get(self, key: str) -> AuthConfig:
        """Credentials for ``key`` (empty when none): ``DOCKER_AUTH_CONFIG`` first, then the store."""
        env = env_auths()
        if key in env:
            return env[key]
        return self.store_for(key).get(key)

    def store(self, auth: AuthConfig) -> None:
        self.store_for(auth.server_address).store(auth)

    def erase(self, key: str) -> None:
        self.store_for(key).erase(key)

    def header_for(self, key: str) -> str:
        """``X-Registry-Auth`` for the registry ``key`` (``{}`` encoded when nothing is stored)."""
        auth = self.get(key)
        return auth.header()

    # -- writing
    def serialise(self) -> str:
        auths: dict[str, dict[str, str]] = {}
        for key, a in self.auths.items():
            entry = {"auth": _encode_auth(a.username, a.password), "email": a.email,
                     "identitytoken": a.identity_token, "registrytoken": a.registry_token}
            auths[key] = {k: v for k, v in entry.items() if v}
        doc = {"auths": auths, **{k: v for k, v in self.raw.items() if k != "auths"}}
        return json.dumps(doc, indent="\t", ensure_ascii=False)

    def save(self) -> None:
        """Write atomically: a temporary file beside the target, fsynced, renamed over it."""
        if self.broken:
            raise CredentialsError(f"not overwriting {self.path}: {self.broken}")
        target = Path(os.path.realpath(self.path))
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = self.serialise().encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=target.name, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def env_auths() -> dict[str, AuthConfig]:
    """Credentials given in ``DOCKER_AUTH_CONFIG`` (``{"auths": {key: {"auth": ...}}}``); they win."""
    raw = os.environ.get(ENV_AUTH_CONFIG)
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
        out = {}
        for key, entry in (doc.get("auths") or {}).items():
            if not entry.get("auth"):
                raise CredentialsError(f"{ENV_AUTH_CONFIG} environment variable is missing key `auth` for {key}")
            user, password = _decode_auth(entry["auth"])
            out[key] = AuthConfig(username=user, password=password, server_address=key)
        return out
    except (ValueError, AttributeError, CredentialsError) as exc:
        sys.stderr.write(f"Failed to create credential store from {ENV_AUTH_CONFIG}:  {exc}\n")
        return {}


# ---------------------------------------------------------------- stores

class FileStore:
    """Plain-text credentials in the config file itself."""

    def __init__(self, config: ConfigFile):
        self.config = config

    def get(self, key: str) -> AuthConfig:
        found = self.config.auths.get(key)
        if found is not None:
            return found
        for stored, auth in self.config.auths.items():  # legacy keys: http://host:port/v1/
            if convert_to_hostname(stored) == key:
                return auth
        return AuthConfig()

    def store(self, auth: AuthConfig) -> bool:
        """Store; True when the file changed (docker then warns about plain text)."""
        if self.config.auths.get(auth.server_address) == auth:
            return False
        self.config.auths[auth.server_address] = auth
        self.config.save()
        return True

    def erase(self, key: str) -> None:
        if key not in self.config.auths:
            return
        del self.config.auths[key]
        self.config.save()


class HelperStore:
    """A ``docker-credential-<name>`` program; the file keeps an entry with the email only."""

    def __init__(self, config: ConfigFile, name: str):
        self.config = config
        self.name = name
        self.program = HELPER_PREFIX + name
        self.file = FileStore(config)

    def _run(self, action: str, data: str) -> str:
        try:
            proc = subprocess.run([self.program, action], input=data.encode(), capture_output=True, timeout=60)
        except FileNotFoundError:
            raise CredentialsError(f"exec: \"{self.program}\": executable file not found in $PATH") from None
        except subprocess.TimeoutExpired:
            raise CredentialsError(f"{self.program} {action}: timed out") from None
        out = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0:
            text = out.strip() or proc.stderr.decode("utf-8", "replace").strip()
            if text == NOT_FOUND:
                raise _NotFound(text)
            verb = {"get": "getting", "store": "storing", "erase": "erasing"}.get(action, action)
            raise CredentialsError(f"error {verb} credentials - err: exit status {proc.returncode}, out: `{text}`")
        return out

    def get(self, key: str) -> AuthConfig:
        base = self.file.get(key)
        try:
            out = self._run("get", key)
        except _NotFound:  # not an error: the user may log in
            return replace(base, username="", password="", identity_token="", server_address="")
        try:
            doc = json.loads(out)
        except ValueError as exc:
            raise CredentialsError(f"{self.program} get: invalid answer: {exc}") from None
        user, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
        if user == TOKEN_USERNAME:
            return replace(base, username="", password="", identity_token=secret, server_address=key)
        return replace(base, username=user, password=secret, identity_token="", server_address=key)

    def store(self, auth: AuthConfig) -> bool:
        creds = {"ServerURL": auth.server_address, "Username": auth.username, "Secret": auth.password}
        if auth.identity_token:
            creds["Username"], creds["Secret"] = TOKEN_USERNAME, auth.identity_token
        self._run("store", json.dumps(creds) + "\n")
        self.file.store(replace(auth, username="", password="", identity_token=""))
        return False

    def erase(self, key: str) -> None:
        try:
            self._run("erase", key)
        except _NotFound as exc:
            raise CredentialsError(f"error erasing credentials - err: exit status 1, out: `{exc}`") from None
        self.file.erase(key)


class _NotFound(CredentialsError):
    pass


UNENCRYPTED_WARNING = """
WARNING! Your credentials are stored unencrypted in '{path}'.
Configure a credential helper to remove this warning. See
https://docs.docker.com/go/credential-store/
"""
