"""Credentials inside URLs, and where credentials may travel (issue 19, holes 4, 5 and 6).

- the password of a URL is a secret from the moment the URL is read (configuration and the
  environment overrides): masked, never printed, stored or handed to twine;
- every URL shown or recorded is shown without its user information;
- credentials go only over HTTPS, or to this machine (localhost, 127.0.0.0/8, ::1);
- the step summary and ``$GITHUB_OUTPUT`` mask a secret in the forms they write it in.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from release.commands.check_version import write_github_output
from release.core import console
from release.core.config import parse_config
from release.core.errors import ConfigError
from release.core.http import insecure_for_credentials, is_loopback, public_url, url_credentials
from release.pipeline import report
from release.pipeline.scheduler import ORDER, PUBLISHED, Outcome, Report
from release.steps.pypi.index import Index, IndexFailure

PASSWORD = "s3cr%C3%A9t%7Cpw"  # as written in a URL: "s3crét|pw"
DECODED = "s3crét|pw"
URL = f"https://robot:{PASSWORD}@pypi.example.org/legacy/"


@pytest.fixture(autouse=True)
def fresh_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_secrets", set())
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


# -- where credentials may go --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostname", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("localhost.example.org", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_this_machine_is_localhost_127_0_0_0_8_and_ipv6_loopback(hostname, loopback):
    assert is_loopback(hostname) is loopback


@pytest.mark.parametrize(
    ("url", "insecure"),
    [
        ("https://upload.pypi.org/legacy/", False),
        ("https://u:p@pypi.example.org/legacy/", False),
        ("http://127.0.0.1:8080/", False),
        ("http://127.5.0.1/", False),
        ("http://[::1]:8080/", False),
        ("http://localhost/", False),
        ("http://pypi.example.org/legacy/", True),
        ("http://u:p@10.0.0.5/legacy/", True),
        ("HTTP://pypi.example.org/", True),
        ("ftp://127.0.0.1/", True),
    ],
)
def test_credentials_go_only_over_https_or_to_this_machine(url, insecure):
    assert insecure_for_credentials(url) is insecure


def _pypi(upload: str, index: str, env: dict[str, str] | None = None) -> Any:
    return parse_config(PYPROJECT.format(upload=upload, index=index), None, env or {}).pypi


def test_a_plain_http_upload_url_is_a_configuration_error_naming_it_and_the_fix():
    with pytest.raises(ConfigError) as raised:
        _pypi("http://robot:hunter2-pw@pypi.example.org/legacy/", "https://pypi.example.org/s/")
    assert str(raised.value) == (
        "tool.release.pypi.repository-url: http://pypi.example.org/legacy/ is not HTTPS, and "
        "credentials go only over HTTPS (plain HTTP only to this machine: localhost, "
        "127.0.0.0/8 or ::1): set tool.release.pypi.repository-url to its https:// URL"
    )
    assert "hunter2-pw" not in console.mask(str(raised.value))


def test_a_plain_http_upload_url_from_the_environment_names_the_variable():
    env = {"TWINE_REPOSITORY_URL": "http://10.0.0.5/legacy/"}
    with pytest.raises(ConfigError, match=r"^TWINE_REPOSITORY_URL: http://10\.0\.0\.5/legacy/ is"):
        _pypi("https://pypi.example.org/legacy/", "https://pypi.example.org/simple/", env)


def test_plain_http_is_allowed_to_this_machine_only():
    local = _pypi("http://u:p@127.0.0.2:8080/", "http://u:p@[::1]:8080/simple/")
    assert local.repository_url == "http://u:p@127.0.0.2:8080/"
    assert _pypi("http://localhost/", "http://localhost/simple/").index_url


def test_a_plain_http_index_is_an_error_only_when_its_url_carries_credentials():
    upload = "https://pypi.example.org/legacy/"
    assert _pypi(upload, "http://mirror.example.org/simple/").index_url.startswith("http://")
    with pytest.raises(ConfigError) as raised:
        _pypi(upload, "http://ci:tok3n-pw@mirror.example.org/simple/")
    message = str(raised.value)
    assert message.startswith("tool.release.pypi.index-url: http://mirror.example.org/simple/ is")
    assert "tok3n" not in message


# -- the password of a URL is a secret -----------------------------------------------------------


def test_a_url_password_is_a_secret_as_written_decoded_and_as_basic_credentials():
    assert url_credentials(URL) == ("robot", DECODED)
    basic = base64.b64encode(f"robot:{DECODED}".encode()).decode()
    text = f"{URL} {DECODED} {PASSWORD} Authorization: Basic {basic}"
    assert console.mask(text) == (
        "https://pypi.example.org/legacy/ *** *** Authorization: Basic ***"
    )


def test_a_token_as_the_user_of_a_url_is_a_secret():
    assert url_credentials("https://ghp_tokenvalue123@example.org/x") == ("ghp_tokenvalue123", "")
    assert console.mask("token ghp_tokenvalue123") == "token ***"


def test_public_url_keeps_host_port_path_and_query():
    assert public_url(URL) == "https://pypi.example.org/legacy/"
    assert public_url("http://u:p@[::1]:8080/simple/?x=1") == "http://[::1]:8080/simple/?x=1"
    assert public_url("https://a@b@Host.example:99/") == "https://Host.example:99/"


PYPROJECT = """
[tool.release]
[tool.release.pypi]
repository-url = "{upload}"
index-url = "{index}"
"""


def test_urls_of_the_configuration_are_secrets_when_read():
    parse_config(
        PYPROJECT.format(upload=URL, index="https://ci:idx-pw-123@pypi.example.org/simple/"),
        None,
        {},
    )
    assert console.mask(f"{DECODED} idx-pw-123") == "*** ***"


def test_urls_of_the_environment_are_secrets_when_read():
    config = parse_config(
        "[tool.release]\n",
        None,
        {
            "TWINE_REPOSITORY_URL": "https://robot:env-upload-pw@pypi.example.org/legacy/",
            "RELEASE_INDEX_URL": "https://robot:env-index-pw@pypi.example.org/simple/",
        },
    )
    assert config.pypi.repository_url.startswith("https://robot:")
    assert console.mask("env-upload-pw env-index-pw") == "*** ***"


def test_a_bad_url_with_credentials_is_refused_without_repeating_them():
    with pytest.raises(ConfigError) as raised:
        parse_config(
            PYPROJECT.format(upload="robot:bad-url-pw@pypi.example.org", index=URL), None, {}
        )
    assert "bad-url-pw" not in str(raised.value)
    assert "is not an http(s) URL" in str(raised.value)


# -- the index client: credentials out of the URL, sent only to the index --------------------------


class Server:
    """A local HTTP server answering GET with a page, recording the Authorization headers."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.seen: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append((self.path, self.headers.get("Authorization")))
                body = server.pages.get(self.path, "").encode()
                self.send_response(200 if self.path in server.pages else 404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.origin = f"127.0.0.1:{self.http.server_address[1]}"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Server, Server]]:
    files = Server({"/files/demo-1.0.tar.gz": "x"})
    index = Server(
        {
            "/simple/demo/": (
                '<a href="/packages/demo-1.0-py3-none-any.whl#sha256=ab">w</a>'
                f'<a href="http://{files.origin}/files/demo-1.0.tar.gz">demo-1.0.tar.gz</a>'
            ),
            "/packages/demo-1.0-py3-none-any.whl": "wheel",
        }
    )
    yield index, files
    index.close()
    files.close()


def test_the_index_sends_its_credentials_to_itself_and_shows_its_urls_without_them(servers):
    index_server, files_server = servers
    index = Index(f"http://ci:{PASSWORD}@{index_server.origin}/simple")
    assert index.url == f"http://{index_server.origin}/simple/"
    found = index.files("demo")
    assert [f.url for f in found] == [
        f"http://{index_server.origin}/packages/demo-1.0-py3-none-any.whl",
        f"http://{files_server.origin}/files/demo-1.0.tar.gz",
    ]
    for file in found:
        with index.download(file):
            pass
    # requests encodes the pair in latin-1; that form is masked too
    basic = "Basic " + base64.b64encode(f"ci:{DECODED}".encode("latin-1")).decode()
    assert console.mask(basic) == "Basic ***"
    assert index_server.seen == [
        ("/simple/demo/", basic),
        ("/packages/demo-1.0-py3-none-any.whl", basic),
    ]
    assert files_server.seen == [("/files/demo-1.0.tar.gz", None)]  # another host: no credentials


def test_an_index_on_plain_http_elsewhere_never_gets_the_credentials():
    index = Index("http://ci:plain-http-pw@192.0.2.1/simple/")  # TEST-NET: never answers
    with pytest.raises(IndexFailure) as raised:
        index.files("demo")
    message = console.mask(str(raised.value))
    assert "not HTTPS" in message and "http://192.0.2.1/simple/" in message
    assert "plain-http-pw" not in str(raised.value)


def test_an_unreachable_index_is_named_without_its_credentials(monkeypatch):
    import release.core.http

    monkeypatch.setattr(release.core.http.time, "sleep", lambda seconds: None)
    index = Index("http://ci:unreachable-pw@127.0.0.1:9/simple/")
    with pytest.raises(IndexFailure) as raised:
        index.files("demo")
    assert "http://127.0.0.1:9/simple/demo/ is not reachable" in str(raised.value)
    assert "unreachable-pw" not in str(raised.value)


# -- the state, the step summary and $GITHUB_OUTPUT ------------------------------------------------


def test_a_record_keeps_urls_without_their_credentials(tmp_path: Path):
    from release.core.git import Git
    from release.run.state import ReleaseState
    from tests.repos import make_repo

    repo = make_repo(tmp_path / "a", files={"pyproject.toml": "[tool.release]\n"}, source=None)
    git = Git(repo.path)
    state = ReleaseState(git, git.out("rev-parse", "HEAD"), "1.0.0", None, mask=console.mask)
    record = state.record(
        "upload", {"files": [{"url": "https://ci:rec-pw-123@pypi.example.org/p/demo.whl"}]}
    )
    assert record["files"] == [{"url": "https://pypi.example.org/p/demo.whl"}]
    assert "rec-pw-123" not in (repo.path / ".git" / "release-state" / "1.0.0.json").read_text()


TRICKY = 'sum|mary<"\\%-secret\nits-second-line'


def _forms(secret: str) -> list[str]:
    from urllib.parse import quote

    lines = secret.split("\n")
    return [
        secret,
        *lines,
        json.dumps(secret)[1:-1],
        *(line.replace("|", "\\|").replace("<", "&lt;") for line in lines),
        quote(secret, safe=""),
    ]


def test_the_step_summary_masks_a_secret_with_markdown_characters_and_a_newline():
    console.register_secret(TRICKY)
    outcomes = {name: Outcome(name, state="done", summary=f"{name} finished") for name in ORDER}
    outcomes["upload"] = Outcome("upload", state="failed", error=f"the index said {TRICKY}")
    outcomes["notify"] = Outcome(
        "notify", state="dry-run", summary="would post", details=(f"to {TRICKY}",)
    )
    text = report.markdown(Report("version/3.0.0", False, outcomes, PUBLISHED))
    assert [form for form in _forms(TRICKY) if form in text] == []
    assert "| upload | FAILED | the index said *** |" in text


def _github_output(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT read as the runner reads it (key=value, or key<<DELIMITER ... DELIMITER)."""
    values: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").split("\n"))
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            values[key] = "\n".join(body)
        elif line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_github_output_masks_values_and_cannot_be_given_extra_keys(tmp_path: Path):
    console.register_secret(TRICKY)
    path = tmp_path / "output"
    data: dict[str, Any] = {
        "plain": f"is {TRICKY}",
        "listed": [TRICKY, "x"],
        "lines": "one\ninjected=true",
    }
    write_github_output(data, {"GITHUB_OUTPUT": str(path)})
    text = path.read_text(encoding="utf-8")
    assert [form for form in _forms(TRICKY) if form in text] == []
    assert _github_output(path) == {
        "plain": "is ***",
        "listed": '["***","x"]',
        "lines": "one\ninjected=true",
    }


# -- the upload URL's own credentials, as twine reads them -----------------------------------------


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def test_the_upload_urls_credentials_are_upload_credentials(no_keyring) -> None:
    from release.steps.pypi.credentials import credential_problem

    url = "http://robot:url-pw-123@127.0.0.1:9/"
    assert credential_problem(url, {}, "/nonexistent/.pypirc") is None
    assert console.mask("url-pw-123") == "***"
    problem = credential_problem("http://robot@127.0.0.1:9/", {}, "/nonexistent/.pypirc")
    assert problem is not None and problem.startswith(
        "no upload credentials for http://127.0.0.1:9/"
    )
