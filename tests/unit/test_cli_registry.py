"""The registry side users touch: ``barge pull/push/search/login/logout``
against a fake daemon, docker's ``config.json`` (file and credential
helpers, a real helper program on PATH), ``X-Registry-Auth``, the progress
renderer, and the API routes that hand requests to the registry jobs (run
on a real aiohttp server with recording job handlers: the jobs themselves
are tested with real registries elsewhere)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import stat
import textwrap

import pytest
from typer.testing import CliRunner

from barge.cli import registry_commands as rc
from barge.cli.main import app
from barge.client import credentials as creds
from barge.client import jsonmessage
from barge.client.errors import StreamError
from tests.unit.test_client import FakeDaemon

runner = CliRunner()
JSON = {"Content-Type": "application/json"}
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    path = tmp_path / "dockercfg"
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    return path


@pytest.fixture
def fake(tmp_path, docker_config):
    d = FakeDaemon(str(tmp_path / "fake.sock"))
    d.route("HEAD", "/_ping", headers={"Api-Version": "1.47"})
    yield d
    d.close()


def run(fake, *args, input=None):
    return runner.invoke(app, ["-H", "unix://" + fake.path, *args], input=input)


def stream(*msgs) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\r\n" for m in msgs)


def decode_header(value: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def config_json(path) -> dict:
    return json.loads((path / "config.json").read_text())


# ---------------------------------------------------------------- config.json

def test_file_store_round_trip_in_dockers_format(docker_config):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"psFormat": "{{.ID}}", "proxies": {"default": {}}}))
    config = creds.ConfigFile.load()
    assert config.get("127.0.0.1:5000") == creds.AuthConfig()
    assert config.store_for("127.0.0.1:5000").store(creds.AuthConfig("alice", "s3:cret", "127.0.0.1:5000"))
    assert config.store_for(creds.INDEX_SERVER).store(creds.AuthConfig("bob", "pw", creds.INDEX_SERVER))
    doc = config_json(docker_config)
    assert doc["auths"] == {"127.0.0.1:5000": {"auth": base64.b64encode(b"alice:s3:cret").decode()},
                            creds.INDEX_SERVER: {"auth": base64.b64encode(b"bob:pw").decode()}}
    assert doc["psFormat"] == "{{.ID}}" and doc["proxies"] == {"default": {}}  # other keys kept
    assert stat.S_IMODE(os.stat(docker_config / "config.json").st_mode) == 0o600
    assert sorted(os.listdir(docker_config)) == ["config.json"]  # no temporary file left
    again = creds.ConfigFile.load()
    assert again.get("127.0.0.1:5000") == creds.AuthConfig("alice", "s3:cret", "127.0.0.1:5000")
    assert not again.store_for("127.0.0.1:5000").store(again.get("127.0.0.1:5000"))  # unchanged: not rewritten
    again.erase("127.0.0.1:5000")
    assert list(config_json(docker_config)["auths"]) == [creds.INDEX_SERVER]


def test_legacy_keys_and_env_credentials(docker_config, monkeypatch):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps(
        {"auths": {"http://reg.example:5001/v1/": {"auth": base64.b64encode(b"u:p").decode(), "email": "e@x"}}}))
    config = creds.ConfigFile.load()
    found = config.get("reg.example:5001")
    assert (found.username, found.password, found.email) == ("u", "p", "e@x")
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", json.dumps({"auths": {"reg.example:5001": {"auth": base64.b64encode(b"env:pw").decode()}}}))
    assert config.get("reg.example:5001").username == "env"


def test_broken_config_is_a_warning_and_never_overwritten(docker_config, capsys):
    docker_config.mkdir()
    (docker_config / "config.json").write_text("{not json")
    with pytest.raises(creds.CredentialsError, match="loading config file"):
        creds.ConfigFile.load()
    config = creds.ConfigFile.load_or_warn()
    assert "WARNING: Error loading config file" in capsys.readouterr().err
    assert config.header_for("x:1") == "e30="
    with pytest.raises(creds.CredentialsError, match="not overwriting"):
        config.store_for("x:1").store(creds.AuthConfig("u", "p", "x:1"))
    assert (docker_config / "config.json").read_text() == "{not json"
    (docker_config / "config.json").write_text(json.dumps({"auths": {"x:1": {"auth": base64.b64encode(b"nocolon").decode()}}}))
    with pytest.raises(creds.CredentialsError, match="Invalid auth configuration file"):
        creds.ConfigFile.load()


@pytest.mark.parametrize("address, host", [
    ("https://index.docker.io/v1/", "index.docker.io"), ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
    ("127.0.0.1:5000", "127.0.0.1:5000"), ("reg.example/some/path", "reg.example"), ("https://[::1]:5000", "[::1]:5000"),
])
def test_convert_to_hostname(address, host):
    assert creds.convert_to_hostname(address) == host


def test_keys_for_registries():
    assert creds.auth_key("docker.io") == creds.auth_key("index.docker.io") == creds.INDEX_SERVER
    assert creds.auth_key("127.0.0.1:5000") == "127.0.0.1:5000"
    assert creds.search_key("busybox") == creds.search_key("library/busybox") == creds.INDEX_SERVER
    assert creds.search_key("127.0.0.1:5000/app") == "127.0.0.1:5000"
    assert creds.search_key("localhost/app") == "localhost"
    assert creds.login_server(None) == creds.login_server("docker.io") == (creds.INDEX_SERVER, True)
    assert creds.login_server("http://127.0.0.1:5000/") == ("127.0.0.1:5000", False)


# ---------------------------------------------------------------- credential helpers

HELPER = textwrap.dedent("""\
    #!/bin/sh
    # A credential helper speaking docker's protocol; one file per server.
    dir="$(dirname "$0")/../store"
    mkdir -p "$dir"
    echo "$1" >> "$dir/calls"
    case "$1" in
      get|erase) url=$(cat) ;;
      store) tmp="$dir/incoming"; cat > "$tmp"
             url=$(sed -n 's/.*"ServerURL": *"\\([^"]*\\)".*/\\1/p' "$tmp") ;;
      *) echo "unknown action"; exit 1 ;;
    esac
    f="$dir/$(printf %s "$url" | tr '/:' '__')"
    case "$1" in
      store) mv "$tmp" "$f" ;;
      get) if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
      erase) if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
    esac
""")


@pytest.fixture
def helper(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("fake", "other"):
        script = bin_dir / f"docker-credential-{name}"
        script.write_text(HELPER.replace("/../store", f"/../store-{name}"))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_creds_store_helper(docker_config, helper):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "fake"}))
    config = creds.ConfigFile.load()
    assert config.get("127.0.0.1:5000") == creds.AuthConfig()  # "not found" is not an error
    config.store(creds.AuthConfig("alice", "pw", "127.0.0.1:5000"))
    stored = json.loads((helper / "store-fake" / "127.0.0.1_5000").read_text())
    assert stored == {"ServerURL": "127.0.0.1:5000", "Username": "alice", "Secret": "pw"}
    assert config_json(docker_config) == {"auths": {"127.0.0.1:5000": {}}, "credsStore": "fake"}  # no secret in the file
    assert creds.ConfigFile.load().get("127.0.0.1:5000") == creds.AuthConfig("alice", "pw", "127.0.0.1:5000")
    config.store(creds.AuthConfig("alice", "", "tok:1", identity_token="idtok"))
    assert json.loads((helper / "store-fake" / "tok_1").read_text())["Username"] == "<token>"
    got = creds.ConfigFile.load().get("tok:1")
    assert (got.username, got.password, got.identity_token) == ("", "", "idtok")
    config.erase("127.0.0.1:5000")
    assert not (helper / "store-fake" / "127.0.0.1_5000").exists()
    assert "127.0.0.1:5000" not in config_json(docker_config)["auths"]
    with pytest.raises(creds.CredentialsError, match="error erasing credentials"):
        config.erase("127.0.0.1:5000")


def test_cred_helpers_per_registry_win(docker_config, helper):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "fake", "credHelpers": {"reg:1": "other"}}))
    config = creds.ConfigFile.load()
    config.store(creds.AuthConfig("u", "p", "reg:1"))
    assert (helper / "store-other" / "reg_1").exists() and not (helper / "store-fake" / "reg_1").exists()
    header = decode_header(creds.ConfigFile.load().header_for("reg:1"))
    assert header == {"username": "u", "password": "p", "serveraddress": "reg:1"}


def test_missing_helper_program(docker_config, helper):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "absent"}))
    with pytest.raises(creds.CredentialsError, match='"docker-credential-absent": executable file not found'):
        creds.ConfigFile.load().get("x:1")


# ---------------------------------------------------------------- X-Registry-Auth

def test_header_is_base64url_json_in_go_field_order():
    auth = creds.AuthConfig("us>?er", "p?>?>~~~", "127.0.0.1:5000")
    header = auth.header()
    assert "+" not in header and "/" not in header  # url-safe alphabet (the std one would need them here)
    assert base64.urlsafe_b64decode(header).decode() == '{"username":"us>?er","password":"p?>?>~~~","serveraddress":"127.0.0.1:5000"}'
    assert creds.AuthConfig().header() == "e30="  # docker sends {} when nothing is stored


def test_header_decodes_with_the_daemons_decoder():
    from barge.registry import auth as auth_mod

    decoded = auth_mod.AuthConfig.from_header(creds.AuthConfig("u", "p?>>", "h:1", identity_token="t").header())
    assert (decoded.username, decoded.password, decoded.serveraddress, decoded.identitytoken) == ("u", "p?>>", "h:1", "t")


# ---------------------------------------------------------------- progress

PULL = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"},
    {"status": "Downloading", "progressDetail": {"current": 1_000_000, "total": 4_000_000}, "progress": "[==>  ]", "id": "aaa"},
    {"status": "Download complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "bbb"},
    {"status": "Digest: " + DIGEST},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]


def test_progress_off_a_terminal_is_plain_lines():
    out = io.StringIO()
    jsonmessage.display(PULL, out, tty=False)
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\naaa: Pulling fs layer\nbbb: Pulling fs layer\n"
        "aaa: Download complete\nbbb: Pull complete\n"
        f"Digest: {DIGEST}\nStatus: Downloaded newer image for busybox:latest\n")


def test_progress_on_a_terminal_redraws_each_layer_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    out = io.StringIO()
    jsonmessage.display(PULL, out, tty=True)
    clear = "\x1b[2K\r"
    bar = "[" + "=" * 12 + ">" + " " * 38 + "] " + "     1MB/4MB"
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\n"
        f"\n\x1b[1A{clear}aaa: Pulling fs layer \r\x1b[1B"
        f"\n\x1b[1A{clear}bbb: Pulling fs layer \r\x1b[1B"
        f"\x1b[2A{clear}aaa: Downloading {bar}\r\x1b[2B"
        f"\x1b[2A{clear}aaa: Download complete \r\x1b[2B"
        f"\x1b[1A{clear}bbb: Pull complete \r\x1b[1B"
        f"Digest: {DIGEST}\nStatus: Downloaded newer image for busybox:latest\n")


def test_progress_bar_details():
    assert jsonmessage.progress_bar({"current": 5, "total": 10}, width=80) == "      5B/10B"
    assert jsonmessage.progress_bar({"current": 12, "total": 10}, width=80) == "     12B"
    assert jsonmessage.progress_bar({"current": 3, "total": 9, "units": "items"}, width=80) == "3/9 items"
    assert jsonmessage.progress_bar({"current": 3, "units": "items"}) == "3 items"
    assert jsonmessage.progress_bar({"current": 3, "total": 9, "hidecounts": True}, width=80) == ""
    assert jsonmessage.progress_bar({"current": 25, "total": 100, "start": 1000}, width=80, now=1010) == "     25B/100B 30s"
    assert jsonmessage.progress_bar({"current": 1, "total": 100, "start": 1000}, width=120, now=1100).endswith("]       1B/100B 2h45m0s")


def test_stream_error_and_aux():
    with pytest.raises(StreamError, match="manifest unknown"):
        jsonmessage.display([{"status": "x"}, {"errorDetail": {"message": "manifest unknown"}}], io.StringIO())
    aux = jsonmessage.display([{"progressDetail": {}, "aux": {"Tag": "1", "Digest": DIGEST, "Size": 527}}], io.StringIO())
    assert aux == [{"Tag": "1", "Digest": DIGEST, "Size": 527}]


# ---------------------------------------------------------------- pull

def test_pull_normalizes_sends_auth_and_prints_the_reference(fake):
    fake.route("POST", "/v1.47/images/create", body=stream(*PULL), headers=JSON)
    result = run(fake, "pull", "busybox")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Using default tag: latest\nlatest: Pulling from library/busybox\n")
    assert result.stdout.endswith("Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n")
    req = fake.requests[-1]
    assert req["path"] == "/v1.47/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest"
    assert req["headers"]["X-Registry-Auth"] == "e30="


def test_pull_with_stored_credentials_digest_platform_and_quiet(fake, docker_config):
    creds.ConfigFile.load().store(creds.AuthConfig("alice", "pw", "127.0.0.1:5000"))
    fake.route("POST", "/v1.47/images/create", body=stream({"status": "Digest: " + DIGEST}), headers=JSON)
    result = run(fake, "pull", "-q", "--platform", "Linux/AMD64", f"127.0.0.1:5000/team/app@{DIGEST}")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"127.0.0.1:5000/team/app@{DIGEST}\n"
    req = fake.requests[-1]
    assert "fromImage=127.0.0.1%3A5000%2Fteam%2Fapp" in req["path"] and f"tag=sha256%3A{'ab' * 32}" in req["path"]
    assert "platform=linux%2Famd64" in req["path"]
    assert decode_header(req["headers"]["X-Registry-Auth"]) == {"username": "alice", "password": "pw", "serveraddress": "127.0.0.1:5000"}


def test_pull_all_tags(fake):
    fake.route("POST", "/v1.47/images/create", body=stream({"status": "Pulling from team/app", "id": "1"}), headers=JSON)
    result = run(fake, "pull", "-a", "127.0.0.1:5000/team/app")
    assert result.exit_code == 0 and result.stdout.endswith("127.0.0.1:5000/team/app\n")
    assert "tag=" not in fake.requests[-1]["path"]
    refused = run(fake, "pull", "-a", "busybox:1")
    assert refused.exit_code == 1 and refused.stderr == "tag can't be used with --all-tags/-a\n"


def test_pull_errors_are_one_line_exit_1(fake):
    fake.route("POST", "/v1.47/images/create", body=stream(
        {"status": "Pulling from library/nope", "id": "latest"},
        {"errorDetail": {"message": "manifest unknown: manifest unknown"}, "error": "manifest unknown: manifest unknown"}),
        headers=JSON)
    result = run(fake, "pull", "nope")
    assert result.exit_code == 1 and result.stderr == "manifest unknown: manifest unknown\n"
    assert "docker.io/library/nope" not in result.stdout
    fake.route("POST", "/v1.47/images/create", 404, {"message": "pull access denied for nope"})
    result = run(fake, "pull", "nope")
    assert result.exit_code == 1 and result.stderr == "Error response from daemon: pull access denied for nope\n"
    bad = run(fake, "pull", "Busybox")
    assert bad.exit_code == 1 and bad.stderr.startswith("invalid reference format")


# ---------------------------------------------------------------- push

def test_push_path_tag_auth_and_output(fake):
    creds.ConfigFile.load().store(creds.AuthConfig("alice", "pw", "127.0.0.1:5000"))
    fake.route("POST", "/v1.47/images/127.0.0.1:5000/team/app/push", body=stream(
        {"status": "The push refers to repository [127.0.0.1:5000/team/app]"},
        {"status": "Preparing", "progressDetail": {}, "id": "aaa"},
        {"status": "Pushed", "progressDetail": {}, "id": "aaa"},
        {"status": f"1.0: digest: {DIGEST} size: 527"},
        {"progressDetail": {}, "aux": {"Tag": "1.0", "Digest": DIGEST, "Size": 527}}), headers=JSON)
    result = run(fake, "push", "127.0.0.1:5000/team/app:1.0")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("The push refers to repository [127.0.0.1:5000/team/app]\naaa: Preparing\naaa: Pushed\n"
                             f"1.0: digest: {DIGEST} size: 527\n")
    req = fake.requests[-1]
    assert req["path"] == "/v1.47/images/127.0.0.1:5000/team/app/push?tag=1.0" and req["body"] == b"{}"
    assert decode_header(req["headers"]["X-Registry-Auth"])["username"] == "alice"
    quiet = run(fake, "push", "-q", "127.0.0.1:5000/team/app:1.0")
    assert quiet.stdout == "127.0.0.1:5000/team/app:1.0\n"


def test_push_familiar_name_default_tag_and_refusals(fake):
    fake.route("POST", "/v1.47/images/me/app/push", body=stream({"status": "ok"}), headers=JSON)
    result = run(fake, "push", "me/app")
    assert result.stdout == "Using default tag: latest\nok\n" and fake.requests[-1]["path"].endswith("/images/me/app/push?tag=latest")
    assert decode_header(fake.requests[-1]["headers"]["X-Registry-Auth"]) == {}
    assert run(fake, "push", "-a", "me/app").exit_code == 0 and "tag=" not in fake.requests[-1]["path"]
    assert run(fake, "push", "-a", "me/app:1").stderr == "tag can't be used with --all-tags/-a\n"
    assert run(fake, "push", f"me/app@{DIGEST}").stderr == "cannot push a digest reference\n"
    bad = run(fake, "push", "--platform", "linux", "me/app")
    assert bad.exit_code == 1 and bad.stderr.startswith("Invalid platform linux")
    assert rc.platform_json("linux/arm64/v8") == '{"architecture":"arm64","os":"linux","variant":"v8"}'


# ---------------------------------------------------------------- search

RESULTS = [
    {"name": "busybox", "description": "Busybox base image.", "star_count": 3300, "is_official": True, "is_automated": False},
    {"name": "127.0.0.1:5000/team/tool", "description": "A long description\nthat goes on and on past the forty five column limit",
     "star_count": 0, "is_official": False, "is_automated": False},
]


def test_search_table_truncates_like_docker():
    lines = rc.render_search(RESULTS).splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    assert lines[1].split("   ")[0] == "busybox" and lines[1].endswith("[OK]")
    desc = "A long description that goes on and on past " + "…"  # 44 characters and the ellipsis
    assert desc in lines[2] and len(desc) == 45
    assert lines[2].index(desc) == lines[0].index("DESCRIPTION")
    assert lines[2].rstrip().endswith("0")
    full = rc.render_search(RESULTS, trunc=False)
    assert "past the forty five column limit" in full


def test_search_formats():
    assert rc.render_search(RESULTS, "{{.Name}}:{{.StarCount}}:{{.IsOfficial}}") == "busybox:3300:[OK]\n127.0.0.1:5000/team/tool:0:\n"
    row = json.loads(rc.render_search(RESULTS, "json").splitlines()[0])
    assert row == {"Description": "Busybox base image.", "IsOfficial": "true", "Name": "busybox", "StarCount": "3300"}


def test_search_command(fake):
    fake.route("GET", "/v1.47/images/search", body=RESULTS)
    result = run(fake, "search", "--limit", "5", "-f", "is-official=true", "--filter", "stars=3", "busybox")
    assert result.exit_code == 0 and result.stdout.splitlines()[1].startswith("busybox")
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(fake.requests[-1]["path"]).query)
    assert query["term"] == ["busybox"] and query["limit"] == ["5"]
    assert json.loads(query["filters"][0]) == {"is-official": {"true": True}, "stars": {"3": True}}
    assert fake.requests[-1]["headers"]["X-Registry-Auth"] == "e30="
    automated = run(fake, "search", "-f", "is-automated=true", "x")
    assert 'the "is-automated" filter is deprecated' in automated.stderr
    assert "limit=" not in fake.requests[-1]["path"]  # 0: the daemon's default
    assert run(fake, "search", "-f", "nonsense", "x").exit_code == 1


# ---------------------------------------------------------------- login / logout

@pytest.mark.parametrize("args, message", [
    (["--password-stdin", "-p", "x", "-u", "u"], "conflicting options: cannot specify both --password and --password-stdin"),
    (["--password-stdin"], "the --password-stdin option requires --username to be set"),
    (["-u", ""], "username is empty"),
    (["-u", "u", "-p", ""], "password is empty"),
])
def test_login_flag_refusals(fake, args, message):
    result = run(fake, "login", *args, "127.0.0.1:5000")
    assert result.exit_code == 1 and result.stderr == message + "\n"
    assert [r["path"] for r in fake.requests] == []  # refused before talking to the daemon


def test_login_stores_credentials_and_prints_status(fake, docker_config):
    fake.route("POST", "/v1.47/auth", body={"Status": "Login Succeeded", "IdentityToken": ""})
    result = run(fake, "login", "-u", "alice", "--password-stdin", "http://127.0.0.1:5000/", input="s3cret\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Login Succeeded\n"
    assert "stored unencrypted in" in result.stderr
    assert json.loads(fake.requests[-1]["body"]) == {"username": "alice", "password": "s3cret", "serveraddress": "127.0.0.1:5000"}
    assert config_json(docker_config)["auths"] == {"127.0.0.1:5000": {"auth": base64.b64encode(b"alice:s3cret").decode()}}
    # Next time, the stored credentials are tried first, without a prompt.
    again = run(fake, "login", "127.0.0.1:5000")
    assert again.exit_code == 0 and again.stdout == "Login Succeeded\n"
    assert "Authenticating with existing credentials... [Username: alice]" in again.stderr


def test_login_keeps_an_identity_token_instead_of_the_password(fake, docker_config):
    fake.route("POST", "/v1.47/auth", body={"Status": "Login Succeeded", "IdentityToken": "tok"})
    result = run(fake, "login", "-u", "alice", "-p", "pw", "reg:1")
    assert result.exit_code == 0 and "Using --password via the CLI is insecure" in result.stderr
    entry = config_json(docker_config)["auths"]["reg:1"]
    assert entry == {"auth": base64.b64encode(b"alice:").decode(), "identitytoken": "tok"}


def test_login_failures(fake, docker_config):
    fake.route("POST", "/v1.47/auth", 401, {"message": "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized"})
    result = run(fake, "login", "-u", "alice", "-p", "bad", "127.0.0.1:5000")
    assert result.exit_code == 1
    assert result.stderr.endswith("Error response from daemon: login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized\n")
    assert not (docker_config / "config.json").exists()  # nothing stored
    no_tty = run(fake, "login", "-u", "alice", "127.0.0.1:5000", input="")
    assert no_tty.exit_code == 1 and no_tty.stderr == "Error: Cannot perform an interactive login from a non TTY device\n"


def test_logout(fake, docker_config):
    config = creds.ConfigFile.load()
    config.store(creds.AuthConfig("a", "b", "127.0.0.1:5000"))
    config.store(creds.AuthConfig("c", "d", "http://127.0.0.1:5000"))
    config.store(creds.AuthConfig("e", "f", creds.INDEX_SERVER))
    result = run(fake, "logout", "http://127.0.0.1:5000/")
    assert result.exit_code == 0 and result.stdout == "Removing login credentials for 127.0.0.1:5000\n"
    assert list(config_json(docker_config)["auths"]) == [creds.INDEX_SERVER]
    assert run(fake, "logout").stdout == "Removing login credentials for https://index.docker.io/v1/\n"
    assert config_json(docker_config)["auths"] == {}
    nothing = run(fake, "logout", "reg:1")  # not logged in: same message, exit 0, as docker 28
    assert nothing.exit_code == 0 and nothing.stdout == "Removing login credentials for reg:1\n" and nothing.stderr == ""


def test_logout_warns_when_every_erase_fails(fake, docker_config, helper):
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "fake"}))
    result = run(fake, "logout", "reg:1")
    assert result.exit_code == 0 and result.stderr.startswith("WARNING: could not erase credentials:\n")


# ---------------------------------------------------------------- API routes

class Recorder:
    """Job handlers that record their typed arguments (the real jobs talk to registries)."""

    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    def engine(self):
        from barge.daemon.jobs.registry import LoginArgs, PullArgs, PushArgs, SearchArgs
        from barge.engine.job import Engine
        from barge.errors import Unauthorized

        engine = Engine()

        def streamer(name):
            def handler(job):
                self.calls.append((name, job.args))
                job.stdout.write(b'{"status":"working"}\r\n')
                if getattr(job.args, "tag", "") == "fail":
                    raise RuntimeError("registry went away")
            return handler

        def search(job):
            self.calls.append(("search", job.args))
            return [{"name": "x", "description": "", "star_count": 1, "is_official": False, "is_automated": False}]

        def auth(job):
            self.calls.append(("auth", job.args))
            if job.args.body.get("password") != "pw":
                raise Unauthorized("login attempt failed with status: 401 Unauthorized")
            return {"Status": "Login Succeeded", "IdentityToken": ""}

        engine.register("pull", PullArgs, streamer("pull"))
        engine.register("push", PushArgs, streamer("push"))
        engine.register("search", SearchArgs, search)
        engine.register("auth", LoginArgs, auth)
        return engine


def call_api(requests_: list[tuple]) -> tuple[Recorder, list]:
    """Serve the image and registry routes on a real socket and send each request."""
    from aiohttp.test_utils import TestClient, TestServer

    from barge.api.routes import images, registry
    from barge.api.server import make_app

    rec = Recorder()

    async def main():
        app = make_app(rec.engine(), modules=[images, registry])
        results = []
        async with TestClient(TestServer(app)) as http:
            for method, path, kwargs in requests_:
                resp = await http.request(method, path, **kwargs)
                results.append((resp.status, await resp.read()))
        return results

    return rec, asyncio.run(main())


def test_pull_route_hands_over_to_the_pull_job():
    rec, res = call_api([
        ("POST", "/v1.47/images/create?fromImage=127.0.0.1:5000/team/app&tag=1&platform=linux/amd64",
         {"headers": {"X-Registry-Auth": "e30="}}),
        ("POST", "/images/create?fromImage=busybox&tag=fail", {}),
        ("POST", "/images/create?fromImage=busybox&fromSrc=-", {}),
    ])
    assert res[0] == (200, b'{"status":"working"}\r\n')
    name, args = rec.calls[0]
    assert name == "pull" and (args.image, args.tag, args.platform, args.auth) == ("127.0.0.1:5000/team/app", "1", "linux/amd64", "e30=")
    status, body = res[1]  # an error after output began ends the stream with errorDetail
    assert status == 200 and json.loads(body.splitlines()[-1])["errorDetail"]["message"] == "registry went away"
    assert res[2][0] == 400 and len(rec.calls) == 2


def test_push_route_names_tags_and_auth():
    header = creds.AuthConfig("u", "p", "127.0.0.1:5000").header()
    rec, res = call_api([
        ("POST", "/v1.47/images/127.0.0.1:5000/team/app/push?tag=1.0", {"headers": {"X-Registry-Auth": header}}),
        ("POST", "/images/busybox/push", {"data": b'{"username":"u","password":"p"}'}),
        ("POST", "/images/busybox/push", {}),
        ("POST", "/v1.47/images/busybox/push?platform=" + '{"os":"linux","architecture":"arm64","variant":"v8"}',
         {"headers": {"X-Registry-Auth": "e30="}}),
        ("POST", "/images/busybox/push?platform=nonsense", {"headers": {"X-Registry-Auth": "e30="}}),
    ])
    assert [r[0] for r in res] == [200, 200, 400, 200, 400]
    first = rec.calls[0][1]
    assert (first.name, first.tag, first.auth) == ("127.0.0.1:5000/team/app", "1.0", header)
    assert decode_header(rec.calls[1][1].auth) == {"username": "u", "password": "p"}  # the body, when no header
    assert json.loads(res[2][1])["message"] == "bad parameters and missing X-Registry-Auth: invalid X-Registry-Auth header: EOF"
    assert rec.calls[2][1].platform == "linux/arm64/v8"
    assert len(rec.calls) == 3


def test_search_and_auth_routes():
    rec, res = call_api([
        ("GET", "/v1.47/images/search?term=127.0.0.1:5000/x&limit=3&filters=" + '{"is-official":{"true":true}}',
         {"headers": {"X-Registry-Auth": "e30="}}),
        ("GET", "/images/search?term=x", {}),
        ("GET", "/images/search", {}),
        ("GET", "/images/search?term=x&limit=abc", {}),
        ("GET", "/images/search?term=x&filters=" + '{"bogus":{"1":true}}', {}),
        ("POST", "/v1.47/auth", {"json": {"username": "u", "password": "pw", "serveraddress": "127.0.0.1:5000"}}),
        ("POST", "/auth", {"json": {"username": "u", "password": "bad"}}),
    ])
    assert [r[0] for r in res] == [200, 200, 400, 400, 400, 200, 401]
    assert json.loads(res[0][1])[0]["name"] == "x"
    first, second = rec.calls[0][1], rec.calls[1][1]
    assert (first.term, first.limit, first.auth) == ("127.0.0.1:5000/x", 3, "e30=")
    assert json.loads(first.filters) == {"is-official": {"true": True}}
    assert second.limit == 25 and second.filters is None
    assert json.loads(res[3][1])["message"].startswith("invalid limit specified")
    assert json.loads(res[5][1]) == {"Status": "Login Succeeded", "IdentityToken": ""}
    assert rec.calls[-1][1].body == {"username": "u", "password": "bad"}
    assert "401 Unauthorized" in json.loads(res[6][1])["message"]


def test_login_prompts_on_a_terminal_without_echoing_the_password(fake, docker_config):
    """A real pseudo-terminal: the username is asked, the password typed with echo off."""
    import pty
    import subprocess
    import sys
    import time

    fake.route("POST", "/v1.47/auth", body={"Status": "Login Succeeded", "IdentityToken": ""})
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "barge", "-H", "unix://" + fake.path, "login", "127.0.0.1:5000"],
                            stdin=slave, stdout=slave, stderr=slave, env=dict(os.environ), close_fds=True)
    os.close(slave)
    seen = b""

    def read_until(token: bytes, timeout: float = 20.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while token not in seen and time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk

    try:
        read_until(b"Username: ")
        os.write(master, b"alice\n")
        read_until(b"Password: ")
        os.write(master, b"hunter2\n")
        read_until(b"Login Succeeded")
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"Login Succeeded" in seen and b"hunter2" not in seen
    assert json.loads(fake.requests[-1]["body"])["password"] == "hunter2"
    assert creds.ConfigFile.load().get("127.0.0.1:5000").username == "alice"
