"""The UI release's pure parts: publish profiles, targets, the deterministic zip, commands."""

from __future__ import annotations

import base64
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from devservices.azure import publish_profile
from release.core import console
from release.core.config import UI
from release.core.errors import ReleaseError
from release.core.http import POLICY
from release.steps.deploy_ui.archive import zip_folder
from release.steps.deploy_ui.kudu import Kudu, Target
from release.steps.deploy_ui.npm import run_command
from release.steps.deploy_ui.profile import (
    PRODUCTION,
    deploy_api,
    parse_publish_profile,
    profile_problems,
    scm_base_url,
)

PASSWORD = "unit-profile-password-5Qx9Lm2Zr7"
DEMO_UI = UI(path="ui", azure_app="demo-ui")


def test_an_apps_profile_deploys_to_its_production_slot_through_its_scm_site() -> None:
    profile = parse_publish_profile(publish_profile("demo-ui", PASSWORD))

    assert (profile.app, profile.slot) == ("demo-ui", PRODUCTION)
    assert profile.scm_url == "https://demo-ui.scm.azurewebsites.net"
    assert profile.username == "$demo-ui"
    assert profile.password == PASSWORD
    assert profile.method == "ZipDeploy"


def test_a_slots_profile_names_the_slot_in_its_site_name() -> None:
    profile = parse_publish_profile(publish_profile("demo-ui", PASSWORD, slot="staging"))

    assert (profile.app, profile.slot) == ("demo-ui", "staging")
    assert profile.scm_url == "https://demo-ui-staging.scm.azurewebsites.net"
    assert profile.username == "$demo-ui__staging"


def test_a_profile_without_zip_deploy_uses_its_web_deploy_credentials() -> None:
    text = publish_profile("demo-ui", PASSWORD, methods=("MSDeploy", "FTP"))

    assert parse_publish_profile(text).method == "MSDeploy"


def test_the_password_and_the_basic_credentials_are_masked_once_parsed() -> None:
    profile = parse_publish_profile(publish_profile("demo-ui", PASSWORD))
    token = base64.b64encode(f"$demo-ui:{PASSWORD}".encode()).decode()

    assert profile.authorization == f"Basic {token}"
    assert console.mask(f"pw={PASSWORD} auth={profile.authorization}") == "pw=*** auth=Basic ***"
    assert PASSWORD not in repr(profile)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("<publishData><publishProfile userPWD='malformed-secret-1' ", "the XML is malformed"),
        ("not xml at all", "the XML is malformed"),
        ("<profiles><publishProfile/></profiles>", "root element is <profiles>"),
        (
            publish_profile("demo-ui", "ftp-only-secret-22", methods=("FTP",)),
            "no MSDeploy or ZipDeploy",
        ),
        (
            '<publishData><publishProfile publishMethod="MSDeploy" userName="$a" '
            'publishUrl="a.scm.azurewebsites.net:443"/></publishData>',
            "lacks userPWD",
        ),
        (
            '<publishData><publishProfile publishMethod="MSDeploy" userName="$a" '
            'userPWD="x-secret-33" publishUrl="waws.ftp.example.net"/></publishData>',
            "is not an SCM (Kudu) site",
        ),
    ],
)
def test_a_malformed_profile_is_refused_with_one_clear_message_and_no_password(
    text: str, says: str
) -> None:
    with pytest.raises(ReleaseError) as raised:
        parse_publish_profile(text)

    message = console.mask(str(raised.value))
    assert says in message
    assert "AZURE_WEBAPP_PUBLISH_PROFILE" in message
    for secret in ("malformed-secret-1", "ftp-only-secret-22", "x-secret-33"):
        assert secret not in message
        assert console.mask(secret) == "***" or secret not in text


def test_a_profile_of_another_slot_or_app_is_a_problem_that_says_which() -> None:
    staging = parse_publish_profile(publish_profile("demo-ui", PASSWORD, slot="staging"))
    other = parse_publish_profile(publish_profile("other-app", PASSWORD))

    assert profile_problems(staging, DEMO_UI) == [
        "the publish profile in AZURE_WEBAPP_PUBLISH_PROFILE is for slot 'staging' of demo-ui, "
        "but [tool.release.ui] slot is 'production': download the profile of slot 'production' "
        "(the slot's own 'Download publish profile'), or set slot = 'staging'"
    ]
    assert "is for app 'other-app'" in profile_problems(other, DEMO_UI)[0]
    assert profile_problems(staging, UI(path="ui", azure_app="Demo-UI", slot="Staging")) == []


def test_the_scm_url_override_replaces_the_profiles_site() -> None:
    profile = parse_publish_profile(publish_profile("demo-ui", PASSWORD))

    assert scm_base_url(profile, DEMO_UI, {}) == "https://demo-ui.scm.azurewebsites.net"
    local = {"RELEASE_AZURE_SCM_URL": "http://127.0.0.1:8123/"}
    assert scm_base_url(profile, DEMO_UI, local) == "http://127.0.0.1:8123"
    proxy = {"RELEASE_AZURE_SCM_URL": "https://deploy.example.org"}
    assert scm_base_url(profile, DEMO_UI, proxy) == "https://deploy.example.org"
    slot = UI(path="ui", azure_app="demo-ui", slot="staging")
    assert scm_base_url(None, slot, {}) == "https://demo-ui-staging.scm.azurewebsites.net"


def test_credentials_are_never_sent_over_plain_http_to_another_host() -> None:
    with pytest.raises(ReleaseError, match="unencrypted"):
        scm_base_url(None, DEMO_UI, {"RELEASE_AZURE_SCM_URL": "http://deploy.example.org"})
    with pytest.raises(ReleaseError, match="not an http"):
        scm_base_url(None, DEMO_UI, {"RELEASE_AZURE_SCM_URL": "ftp://127.0.0.1"})


def test_zip_deploy_is_the_default_api_and_onedeploy_is_chosen_by_environment() -> None:
    assert deploy_api({}) == "zipdeploy"
    assert deploy_api({"RELEASE_AZURE_DEPLOY_API": "OneDeploy"}) == "onedeploy"
    with pytest.raises(ReleaseError, match="use one of zipdeploy, onedeploy"):
        deploy_api({"RELEASE_AZURE_DEPLOY_API": "msdeploy"})

    zip_target = Target("https://a.scm.azurewebsites.net", "zipdeploy", "a", PRODUCTION)
    one_target = Target("https://a.scm.azurewebsites.net", "onedeploy", "a", PRODUCTION)
    assert zip_target.deploy_url == "https://a.scm.azurewebsites.net/api/zipdeploy?isAsync=true"
    assert (
        one_target.deploy_url == "https://a.scm.azurewebsites.net/api/publish?type=zip&async=true"
    )


def test_a_location_on_another_host_is_followed_on_the_deployment_site_only() -> None:
    target = Target("http://127.0.0.1:8123", "zipdeploy", "a", PRODUCTION)

    assert (
        target.same_site("https://elsewhere.example.org/api/deployments/latest?deployer=Push")
        == "http://127.0.0.1:8123/api/deployments/latest?deployer=Push"
    )
    assert target.same_site("/api/deployments/abc") == "http://127.0.0.1:8123/api/deployments/abc"


def _build_output(root: Path) -> Path:
    (root / "assets" / "img").mkdir(parents=True)
    (root / "index.html").write_text("<html>4.2.0</html>\n")
    (root / "assets" / "app.css").write_text("body {}\n")
    (root / "assets" / "img" / "logo.svg").write_text("<svg/>\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "empty-folder").mkdir()
    return root


def test_the_zip_holds_the_files_sorted_with_one_timestamp_and_no_folders(tmp_path: Path) -> None:
    output = _build_output(tmp_path / "dist")
    archive = zip_folder(output, tmp_path / "ui.zip", 1_700_000_000)

    assert archive.files == ("assets/app.css", "assets/img/logo.svg", "index.html", "run.sh")
    with zipfile.ZipFile(archive.path) as opened:
        infos = opened.infolist()
        assert [i.filename for i in infos] == list(archive.files)
        assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
        assert opened.read("index.html") == b"<html>4.2.0</html>\n"
    assert modes == {
        "assets/app.css": 0o644,
        "assets/img/logo.svg": 0o644,
        "index.html": 0o644,
        "run.sh": 0o755,
    }
    assert archive.size == (tmp_path / "ui.zip").stat().st_size


def test_the_same_output_zips_to_the_same_bytes_whenever_it_was_built(tmp_path: Path) -> None:
    first = zip_folder(_build_output(tmp_path / "one"), tmp_path / "one.zip", 1_700_000_000)
    again = _build_output(tmp_path / "two")
    for path in again.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = zip_folder(again, tmp_path / "two.zip", 1_700_000_000)

    assert first.sha256 == second.sha256
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    older = zip_folder(again, tmp_path / "three.zip", 0)
    with zipfile.ZipFile(older.path) as opened:
        assert opened.infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)


def test_a_failing_command_reports_its_exit_code_and_last_lines(tmp_path: Path) -> None:
    command = "for i in $(seq 1 30); do echo line $i; done; echo boom >&2; exit 7"

    with pytest.raises(ReleaseError) as raised:
        run_command(command, tmp_path, dict(os.environ), "the UI's build command")

    message = str(raised.value)
    assert "failed with exit code 7" in message
    assert "| boom" in message and "| line 30" in message
    assert "| line 10" not in message  # only the last lines


def test_a_succeeding_command_streams_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_command("echo built it", tmp_path, dict(os.environ), "the UI's build command")

    assert "built it" in capsys.readouterr().err


def _ui_config(extra: str) -> str:
    return f'[tool.release.ui]\npath = "ui"\nazure-app = "demo-ui"\n{extra}'


def test_the_deploy_timeout_defaults_to_ten_minutes_and_is_configurable() -> None:
    from release.core.config import parse_config

    files = ["ui/package.json"]
    default = parse_config(_ui_config(""), files).ui
    assert default is not None and default.deploy_timeout == 600
    configured = parse_config(_ui_config("deploy-timeout = 1200"), files).ui
    assert configured is not None and configured.deploy_timeout == 1200
    for wrong in ("0", "-5", "'10m'", "true", "1.5"):
        with pytest.raises(
            ReleaseError, match=r"tool\.release\.ui\.deploy-timeout: expected a positive"
        ):
            parse_config(_ui_config(f"deploy-timeout = {wrong}"), files)


def _answer(status: int, body: Any = None, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "Status"
    response.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    response._content = json.dumps(body).encode() if body is not None else b""
    response._content_consumed = True
    response.encoding = "utf-8"
    return response


class Answers:
    """A session stand-in: each request gets the next prepared answer."""

    def __init__(self, *responses: requests.Response) -> None:
        self.responses = list(responses)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.responses.pop(0)

    post = get

    def close(self) -> None:
        pass


def test_a_servers_wait_of_an_hour_between_polls_or_for_a_busy_site_is_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # nothing really waits
    profile = parse_publish_profile(publish_profile("demo-ui", PASSWORD))
    kudu = Kudu(Target("http://127.0.0.1:8123", "zipdeploy", "demo-ui", PRODUCTION), profile)
    hour = {"Retry_After": "3600"}
    monkeypatch.setattr(
        kudu,
        "uploads",
        Answers(
            _answer(409, **hour),  # another deployment runs: the conflict's wait
            _answer(503, **hour),  # the zip's POST tried again: the policy's wait
            _answer(202, Location="/api/deployments/d1"),
        ),
    )
    building = {"id": "d1", "status": 1, "status_text": "Building", "complete": False}
    monkeypatch.setattr(kudu, "session", Answers(_answer(202, building, **hour)))
    (tmp_path / "ui.zip").write_bytes(b"PK\x05\x06" + bytes(18))

    url = kudu.start(tmp_path / "ui.zip", time.monotonic() + 600)
    record, wait = kudu.deployment(url)

    assert url == "http://127.0.0.1:8123/api/deployments/d1"
    assert waits == [POLICY.max_wait, POLICY.max_wait]
    assert (record.id, record.status_name, wait) == ("d1", "Building", POLICY.max_wait)
