"""Registry commands: pull, push, search, login and logout, as docker CLI 28
has them (flags, messages, exit codes).

Credentials come from docker's ``config.json`` (:mod:`barge.client.credentials`)
and travel to the daemon in ``X-Registry-Auth``; the daemon talks to the
registry. ``barge registry serve|gc`` is another module (``cli/registry.py``).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, List, Optional

import typer

from barge.cli.common import add_commands, client, fail, handles_errors, out, stdout_is_tty

if TYPE_CHECKING:  # pragma: no cover
    from barge.client.api import Client, Response

AUTH_HEADER = "X-Registry-Auth"
REGISTER_SUGGEST = ("Log in with your Docker ID or email address to push and pull images from Docker Hub. "
                    "If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.")
PAT_SUGGEST = ("You can log in with your password or a Personal Access Token (PAT). Using a limited-scope PAT "
               "grants better security and is required for organizations using SSO. Learn more at "
               "https://docs.docker.com/go/access-tokens/")


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="/:@")


def _parse(name: str):
    """docker's ``ParseNormalizedNamed``, with its error text."""
    from barge import reference
    from barge.client.reference import InvalidReference
    from barge.errors import InvalidParameter

    try:
        return reference.parse(name)
    except InvalidParameter as exc:
        raise InvalidReference(str(exc)) from None


def _config():
    from barge.client.credentials import ConfigFile

    return ConfigFile.load_or_warn()


def _display(response: "Response", quiet: bool) -> list[dict]:
    from barge.client import jsonmessage

    with response:
        if quiet:
            return jsonmessage.display(response.messages(), _Discard(), tty=False)
        return jsonmessage.display(response.messages(), sys.stdout, tty=stdout_is_tty())


# ---------------------------------------------------------------- pull

def pull_query(ref, all_tags: bool, platform: str | None) -> dict[str, Any]:
    """The query of ``POST /images/create`` for a pull (docker's ``ImagePull``)."""
    query: dict[str, Any] = {"fromImage": ref.name}
    if not all_tags:
        query["tag"] = ref.digest or ref.tag or "latest"
    if platform:
        query["platform"] = platform.lower()
    return query


def request_pull(api: "Client", ref, all_tags: bool, platform: str | None, auth: str) -> "Response":
    return api.request("POST", "/images/create", pull_query(ref, all_tags, platform), None, {AUTH_HEADER: auth})


@handles_errors
def pull(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME[:TAG|@DIGEST]")],
    all_tags: Annotated[bool, typer.Option("-a", "--all-tags", help="Download all tagged images in the repository.")] = False,
    platform: Annotated[Optional[str], typer.Option("--platform", envvar="DOCKER_DEFAULT_PLATFORM",
                                                    help="Set platform if server is multi-platform capable.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Suppress verbose output.")] = False,
) -> None:
    """Download an image from a registry."""
    from barge.client.credentials import auth_key

    ref = _tagged(name, all_tags, quiet)
    auth = _config().header_for(auth_key(ref.domain))
    _display(request_pull(client(ctx), ref, all_tags, platform, auth), quiet)
    out(f"{ref}\n")


def _tagged(name: str, all_tags: bool, quiet: bool):
    """The reference to pull or push: ``latest`` added (and said) unless ``-a`` or a tag/digest is given."""
    ref = _parse(name)
    name_only = ref.tag is None and ref.digest is None
    if all_tags and not name_only:
        raise fail("tag can't be used with --all-tags/-a")
    if not all_tags and name_only:
        ref = ref.with_default_tag()
        if not quiet:
            out(f"Using default tag: {ref.tag}\n")
    return ref


# ---------------------------------------------------------------- push

def platform_json(platform: str) -> str:
    """``--platform os/arch[/variant]`` as the JSON OCI platform the push API takes."""
    parts = platform.lower().split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise ValueError(f"\"{platform}\": unknown operating system or architecture: invalid argument")
    doc = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        doc["variant"] = parts[2]
    return json.dumps(doc, separators=(",", ":"))


@handles_errors
def push(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME[:TAG]")],
    all_tags: Annotated[bool, typer.Option("-a", "--all-tags", help="Push all tags of an image to the repository.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Suppress verbose output.")] = False,
    platform: Annotated[Optional[str], typer.Option(
        "--platform", help="Push a platform-specific manifest as a single-platform image to the registry.")] = None,
) -> None:
    """Upload an image to a registry."""
    from barge.client.credentials import auth_key

    query: dict[str, Any] = {}
    if platform:
        try:
            query["platform"] = platform_json(platform)
        except ValueError as exc:
            raise fail(f"Invalid platform {platform}: {exc}") from None
        out("\n Info -> Using --platform pushes only the specified platform manifest of a multi-platform image index.\n"
            "         Other components, like attestations, will not be included.\n"
            "         To push the complete multi-platform image, remove the --platform flag.\n")
    ref = _tagged(name, all_tags, quiet)
    if ref.digest:
        raise fail("cannot push a digest reference")
    if not all_tags:
        query["tag"] = ref.tag
    auth = _config().header_for(auth_key(ref.domain))
    response = client(ctx).request("POST", f"/images/{_quote(ref.familiar_name)}/push", query, b"{}",
                                   {AUTH_HEADER: auth, "Content-Type": "application/json"})
    _display(response, quiet)
    if quiet:
        out(f"{ref}\n")


# ---------------------------------------------------------------- search

SEARCH_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
SEARCH_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"}


def search_rows(results: list[dict], trunc: bool = True) -> list:
    from barge.client.templates import Struct
    from barge.client.units import ellipsis

    class SearchRow(Struct):
        """One result of ``barge search`` (docker's ``searchContext``)."""

        GO_TYPE = "*registry.searchContext"
        FIELDS = ("Description", "IsOfficial", "Name", "StarCount")

        def __init__(self, result: dict):
            self.result = result

        @property
        def Name(self) -> str:
            return str(self.result.get("name") or "")

        @property
        def Description(self) -> str:
            text = str(self.result.get("description") or "").replace("\n", " ").replace("\r", " ")
            return ellipsis(text, 45) if trunc else text

        @property
        def StarCount(self) -> str:
            return str(int(self.result.get("star_count") or 0))

        @property
        def IsOfficial(self) -> str:
            return "[OK]" if self.result.get("is_official") else ""

        def to_json(self) -> dict:
            """``{{json .}}``: every field a string, IsOfficial ``"true"``/``"false"`` (docker's formatBool)."""
            doc = super().to_json()
            doc["IsOfficial"] = "true" if self.result.get("is_official") else "false"
            return doc

    return [SearchRow(r) for r in results if isinstance(r, dict)]


def render_search(results: list[dict], format: str | None = None, trunc: bool = True) -> str:
    from barge.client import formatter

    return formatter.render(format or "", search_rows(results, trunc), SEARCH_TABLE, SEARCH_HEADERS)


def search_query(term: str, limit: int, filters: dict[str, list[str]]) -> dict[str, Any]:
    query: dict[str, Any] = {"term": term}
    if limit > 0:
        query["limit"] = str(limit)
    if filters:
        query["filters"] = json.dumps({k: {v: True for v in vs} for k, vs in filters.items()}, separators=(",", ":"))
    return query


@handles_errors
def search(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(metavar="TERM")],
    filter: Annotated[Optional[List[str]], typer.Option("-f", "--filter", help="Filter output based on conditions provided.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="Pretty-print search using a Go template.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Max number of search results.")] = 0,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
) -> None:
    """Search registries for images."""
    from barge.cli.common import parse_filters
    from barge.client.credentials import search_key

    filters = parse_filters(filter)
    if "is-automated" in filters:
        sys.stderr.write('WARNING: the "is-automated" filter is deprecated, and searching for '
                         '"is-automated=true" will not yield any results in future.\n')
    auth = _config().header_for(search_key(term))
    results = client(ctx).request("GET", "/images/search", search_query(term, limit, filters),
                                  headers={AUTH_HEADER: auth}).json() or []
    out(render_search(results, format, trunc=not no_trunc))


# ---------------------------------------------------------------- login / logout

def verify_login_flags(username: str | None, password: str | None, password_stdin: bool) -> None:
    """docker's ``verifyLoginFlags``; ``None`` means the flag was not given."""
    if password_stdin:
        if password is not None:
            raise fail("conflicting options: cannot specify both --password and --password-stdin")
        if username is None:
            raise fail("the --password-stdin option requires --username to be set")
    if username is not None and username == "":
        raise fail("username is empty")
    if password is not None and password == "":
        raise fail("password is empty")


def _stdin_is_tty() -> bool:
    from barge.client.term import is_terminal

    return is_terminal(sys.stdin)


def _read_line(prompt: str) -> str:
    out(prompt)
    line = sys.stdin.readline()
    return line.rstrip("\r\n").strip()


def _read_secret(prompt: str) -> str:
    """The password prompt: echo off on the terminal, as docker's ``DisableInputEcho``."""
    import termios

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        return _read_line(prompt)
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
        out("\n")


def prompt_credentials(user: str, password: str, default_user: str, server: str) -> tuple[str, str]:
    """docker's ``PromptUserForCredentials``."""
    from barge.client.credentials import INDEX_SERVER

    user = user.strip()
    if not user:
        if server == INDEX_SERVER:
            out(REGISTER_SUGGEST + "\n" + PAT_SUGGEST + "\n\n")
        default_user = default_user.strip()
        user = _read_line(f"Username ({default_user}): " if default_user else "Username: ") or default_user
        if not user:
            raise fail("Error: Non-null Username Required")
    password = password.strip()
    if not password:
        password = _read_secret("Password: ")
        if not password:
            raise fail("Error: Password Required")
    return user, password


def request_login(api: "Client", auth) -> dict:
    body = json.dumps(auth.to_json(), separators=(",", ":")).encode()
    return api.request("POST", "/auth", None, body, {"Content-Type": "application/json"}).json() or {}


def _store(config, auth) -> None:
    from barge.client.credentials import UNENCRYPTED_WARNING, CredentialsError, FileStore

    store = config.store_for(auth.server_address)
    try:
        changed = store.store(auth)
    except (CredentialsError, OSError) as exc:
        raise fail(f"Error saving credentials: {exc}") from None
    if isinstance(store, FileStore) and changed and auth.password:
        sys.stderr.write(UNENCRYPTED_WARNING.format(path=config.path) + "\n")


def _env_warning() -> None:
    import os

    from barge.client.credentials import ENV_AUTH_CONFIG

    if os.environ.get(ENV_AUTH_CONFIG):
        sys.stderr.write(f"\n Warn -> {ENV_AUTH_CONFIG} is set and takes precedence.\n"
                         f"         Unset {ENV_AUTH_CONFIG} to restore the CLI auth behaviour.\n")


def _login_with(api: "Client", config, auth) -> str:
    """POST /auth; on success keep the credentials (the identity token instead of the password)."""
    from dataclasses import replace

    response = request_login(api, auth)
    token = str(response.get("IdentityToken") or "")
    if token:
        auth = replace(auth, password="", identity_token=token)
    _store(config, auth)
    return str(response.get("Status") or "")


@handles_errors
def login(
    ctx: typer.Context,
    server: Annotated[Optional[str], typer.Argument(metavar="[SERVER]", show_default=False)] = None,
    username: Annotated[Optional[str], typer.Option("-u", "--username", help="Username.")] = None,
    password: Annotated[Optional[str], typer.Option("-p", "--password", help="Password or Personal Access Token (PAT).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Take the Password or Personal Access Token (PAT) from stdin.")] = False,
) -> None:
    """Authenticate to a registry.
    Defaults to Docker Hub if no server is specified."""
    from barge.client.credentials import AuthConfig, ConfigFile, CredentialsError, login_server
    from barge.client.errors import APIError

    verify_login_flags(username, password, password_stdin)
    user, secret = username or "", password or ""
    if secret:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if password_stdin:
        secret = sys.stdin.read()
        secret = secret[:-1] if secret.endswith("\n") else secret
        secret = secret[:-1] if secret.endswith("\r") else secret
    _env_warning()
    key, _ = login_server(server)
    try:
        config = ConfigFile.load()
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    api = client(ctx)
    stored = AuthConfig(server_address=key)
    if not user and not secret:
        try:
            stored = config.get(key)
        except CredentialsError:
            stored = AuthConfig(server_address=key)
    msg, error = "", True
    if stored.username and stored.password:
        sys.stderr.write(f"Authenticating with existing credentials... [Username: {stored.username}]\n"
                         "\n Info -> To login with a different account, run 'barge logout' followed by 'barge login'\n\n\n")
        try:
            msg, error = _login_with(api, config, AuthConfig(stored.username, stored.password, key)), False
        except APIError as exc:
            if exc.status == 401:
                sys.stderr.write("Stored credentials invalid or expired\n")
            else:
                sys.stderr.write(f"Login did not succeed, error: {exc}\n")
    if error:
        if (not user or not secret) and not _stdin_is_tty():
            raise fail("Error: Cannot perform an interactive login from a non TTY device")
        user, secret = prompt_credentials(user, secret, stored.username, key)
        msg = _login_with(api, config, AuthConfig(user, secret, key))
    if msg:
        out(msg + "\n")


@handles_errors
def logout(
    ctx: typer.Context,
    server: Annotated[Optional[str], typer.Argument(metavar="[SERVER]", show_default=False)] = None,
) -> None:
    """Log out from a registry.
    If no server is specified, the default is defined by the daemon."""
    from barge.client.credentials import ConfigFile, CredentialsError, login_server

    _env_warning()
    key, default = login_server(server)
    keys = [server or key] if not default else [key]
    if not default:
        keys += [key, f"http://{key}", f"https://{key}"]
    keys = list(dict.fromkeys(keys))
    try:
        config = ConfigFile.load()
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    out(f"Removing login credentials for {key}\n")
    errors = {}
    for k in keys:
        try:
            config.erase(k)
        except (CredentialsError, OSError) as exc:
            errors[k] = exc
    if len(errors) == len(keys):
        sys.stderr.write("WARNING: could not erase credentials:\n")
        for k, exc in errors.items():
            sys.stderr.write(f"{k}: {exc}\n")


# name, function, hidden aliases, groups ("" is the top level)
COMMANDS = (
    ("pull", pull, (), ("", "image")),
    ("push", push, (), ("", "image")),
    ("search", search, (), ("",)),
    ("login", login, (), ("",)),
    ("logout", logout, (), ("",)),
)


def register(app: typer.Typer) -> None:
    """Add pull, push, search, login and logout (pull and push also under ``image``)."""
    from barge.cli.images import image_app

    add_commands({"": app, "image": image_app}, COMMANDS)
