"""Trust: credentials inside URLs, credentials over plain HTTP, and the forms a secret takes
(issue 19, holes 4, 5 and 6), through whole releases of the demo into real services.

- **URL credentials** (hole 4): the index and upload URLs carry ``user:password@`` and the
  password is nowhere else (no ``TWINE_USERNAME``/``TWINE_PASSWORD``): the release uploads
  with them and completes, and the password reaches no output, file, state note, git object
  or step summary in any form.
- **A secret with markup characters** (hole 6): the index URL's password holds ``|``, ``<``,
  ``"``, ``\\``, ``%`` and a line break; a release and ``check-version --json
  --github-output`` in GitHub Actions announce each of its lines to the runner, escaped, and
  no encoded form of it (raw, each line, JSON-, Markdown-, percent-, workflow-escaped,
  base64) reaches any output, file, note or the step summary.
- **Plain HTTP elsewhere** (hole 5): an upload URL ``http://user:password@<this machine's
  non-loopback address>/`` is refused before anything: exit 1, one line naming the URL
  without its credentials and the fix, nothing sent there, nothing changed anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.elsewhere import Listener, outside_address
from tests.reliability.conftest import MakeWorld, assert_clean
from tests.reliability.world import INDEX_PASSWORD, INDEX_USER, TAG, Leak, World
from tests.secrets import encoded_forms

# Each line long enough to be a secret of its own; every character class an output escapes.
MARKUP_SECRET = 'trust|pw<"with\\every%41-char\nsecond-line-of-the-pw'


def everywhere(world: World, secret: str, user: str) -> list[Leak]:
    """Where any form of ``secret`` (or of the Basic credentials ``user:secret``) appears:
    every run's output, every file of the scenario (clone, remote, step summary,
    $GITHUB_OUTPUT) and every git object of the clone and the remote."""
    return world.leaks(forms={**encoded_forms(secret), **encoded_forms(f"{user}:{secret}")})


def announced(world: World) -> set[str]:
    """The values given to the runner with ``::add-mask::``, unescaped; each must be escaped
    as a workflow command value (every ``%`` an escape, no raw line break)."""
    values = [
        line.removeprefix("::add-mask::")
        for outcome in world.outcomes
        for line in outcome.output.splitlines()
        if line.startswith("::add-mask::")
    ]
    bad = [v for v in values if not re.fullmatch(r"([^%\r\n]|%25|%0D|%0A)*", v)]
    assert bad == [], bad
    return {v.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%") for v in values}


def with_userinfo(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


def test_urls_carrying_the_upload_credentials_release_and_never_show_them(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    world.extra_env.update(
        {
            "TWINE_REPOSITORY_URL": with_userinfo(
                f"{world.index.url}/", INDEX_USER, INDEX_PASSWORD
            ),
            "RELEASE_INDEX_URL": with_userinfo(
                f"{world.index.url}/simple/", INDEX_USER, INDEX_PASSWORD
            ),
            "TWINE_USERNAME": "",  # the URL's credentials are the only ones
            "TWINE_PASSWORD": "",
        }
    )
    outcome = world.release()
    assert outcome.returncode == 0, outcome
    assert everywhere(world, INDEX_PASSWORD, INDEX_USER) == []
    assert INDEX_PASSWORD in announced(world)
    notes = world.remote_notes()
    assert notes["upload"]["repository"] == f"{world.index.url}/"
    assert all(f["url"].startswith(world.index.url) for f in notes["upload"]["files"])
    assert f"{world.index.url}/" in world.summary_file.read_text(encoding="utf-8")
    assert_clean(world)


def test_a_secret_with_markup_characters_and_a_line_break_is_masked_in_every_form(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    world.extra_env["RELEASE_INDEX_URL"] = with_userinfo(
        f"{world.index.url}/simple/", "reader", MARKUP_SECRET
    )
    checked = world.invoke("check-version", "--tag", TAG, "--json", "--github-output")
    assert checked.returncode == 0, checked
    assert json.loads(checked.stdout)["version"] == "1.1.0"
    outcome = world.release()
    assert outcome.returncode == 0, outcome
    assert "| upload | done |" in world.summary_file.read_text(encoding="utf-8")
    assert everywhere(world, MARKUP_SECRET, "reader") == []
    masked = announced(world)
    for line in MARKUP_SECRET.split("\n"):
        assert line in masked, line
    assert quote(MARKUP_SECRET, safe="") in masked  # as the URL spells it
    assert_clean(world)


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on this machine's non-loopback address (a host that is not this
    machine to the rule): its upload URL and every request it received."""
    address = outside_address()
    if address is None:
        yield "http://192.0.2.1:9/", []  # TEST-NET: a host that never answers
        return
    server = Listener(address)
    yield server.url, server.requests
    server.close()


def test_an_upload_url_on_plain_http_to_another_machine_is_refused_before_anything(
    make_world: MakeWorld, listener: tuple[str, list[str]]
) -> None:
    url, seen = listener
    world = make_world(github_actions=True)
    world.extra_env["TWINE_REPOSITORY_URL"] = with_userinfo(url, INDEX_USER, INDEX_PASSWORD)
    state = world.state()  # the template's build record
    for outcome in (world.invoke("check-version", "--tag", TAG), world.release()):
        assert outcome.returncode == 1, outcome
        assert "Traceback" not in outcome.output
        errors = outcome.errors()
        assert errors == [
            f"error: TWINE_REPOSITORY_URL: {url} is not HTTPS, and credentials go only over "
            "HTTPS (plain HTTP only to this machine: localhost, 127.0.0.0/8 or ::1): set "
            "TWINE_REPOSITORY_URL to its https:// URL"
        ], outcome
    assert seen == []  # nothing reached the plain-HTTP host, the credentials least of all
    assert world.side_effects() == []
    assert world.state() == state  # nothing recorded
    assert world.index_files() == {}  # nothing uploaded
    assert everywhere(world, INDEX_PASSWORD, INDEX_USER) == []
    assert world.leaks() == []
