"""``barge registry serve|gc``: barge's own registry server and its garbage
collector. The server is imported only when a command runs (this module is
imported by every ``barge`` call)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from barge.cli.common import fail

registry_app = typer.Typer(help="Run a registry server (OCI distribution API).", no_args_is_help=True,
                           rich_markup_mode=None, add_completion=False)


def serve(
    addr: Annotated[Optional[str], typer.Option("--addr", help="HOST:PORT to listen on (port 0: any free port). [default: 127.0.0.1:5000]")] = None,
    root: Annotated[Optional[Path], typer.Option("--root", help="Storage directory. [default: /var/lib/barge-registry]")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with these settings (flags win).")] = None,
    tls_cert: Annotated[Optional[Path], typer.Option("--tls-cert", help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option("--tls-key", help="TLS private key (PEM).")] = None,
    htpasswd: Annotated[Optional[Path], typer.Option("--htpasswd", help="htpasswd file with bcrypt entries (htpasswd -B).")] = None,
    auth: Annotated[Optional[str], typer.Option("--auth", help="none, basic or token. [default: basic with --htpasswd, else none]")] = None,
    realm: Annotated[Optional[str], typer.Option("--realm", help="Basic auth realm; with --auth token, the token service URL.")] = None,
    service: Annotated[Optional[str], typer.Option("--service", help="Service name in token challenges.")] = None,
    anonymous: Annotated[Optional[str], typer.Option("--anonymous", help="With --auth token: actions granted without credentials, e.g. pull.")] = None,
    token_secret: Annotated[Optional[Path], typer.Option("--token-secret", help="File with the token signing key (created if missing).")] = None,
) -> None:
    """Run a registry server in the foreground."""
    from barge.registry.server import config as server_config
    from barge.registry.server.serve import run

    try:
        cfg = server_config.load(config, addr=addr, root=root, tls_cert=tls_cert, tls_key=tls_key,
                                 htpasswd=htpasswd, auth=auth, realm=realm, service=service,
                                 anonymous=anonymous, token_secret=token_secret)
        code = run(cfg)
    except (server_config.ConfigError, ValueError) as exc:
        raise fail(f"barge registry: {exc}") from None
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def gc(
    root: Annotated[Path, typer.Option("--root", help="Storage directory of the registry.")],
    dry_run: Annotated[bool, typer.Option("-d", "--dry-run", help="Only print what would be deleted.")] = False,
    delete_untagged: Annotated[bool, typer.Option("-m", "--delete-untagged", help="Delete manifests no tag reaches.")] = False,
) -> None:
    """Delete blobs no manifest references (run while nobody pushes)."""
    from barge.registry.server.gc import collect

    try:
        collect(root, dry_run=dry_run, delete_untagged=delete_untagged)
    except OSError as exc:
        raise fail(f"barge registry gc: {exc}") from None


def register(app: typer.Typer) -> None:
    registry_app.command("serve")(serve)
    registry_app.command("gc")(gc)
    app.add_typer(registry_app, name="registry")
