"""The Azure publish profile, and where a deployment goes: the SCM site and Kudu's API.

``AZURE_WEBAPP_PUBLISH_PROFILE`` holds the XML that the Azure portal's "Download publish
profile" gives. It is a secret: every password in it is registered with the console's mask
before the text is parsed, so that no message, not even one about malformed XML, shows it.
``RELEASE_AZURE_SCM_URL`` and ``RELEASE_AZURE_DEPLOY_API`` choose another SCM site (the
tests, the demo) and OneDeploy instead of zip deploy.

Both ``deploy-ui``'s client (``kudu``) and its pre-flight checks (``checks``) read these, so
this module imports only the console, the configuration's ``UI`` and the errors: the XML
parser is imported when a profile is parsed, and ``requests`` never.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from release.core import console
from release.core.errors import ReleaseError

if TYPE_CHECKING:
    from release.core.config import UI
    from release.run.context import ReleaseContext

PROFILE_ENV = "AZURE_WEBAPP_PUBLISH_PROFILE"
PRODUCTION = "production"  # the slot of an app's own profile
SCM_URL_ENV = "RELEASE_AZURE_SCM_URL"
DEPLOY_API_ENV = "RELEASE_AZURE_DEPLOY_API"
DEPLOY_APIS = ("zipdeploy", "onedeploy")

_PASSWORD_ATTRIBUTE = re.compile(r"""userPWD\s*=\s*(?:"([^"]*)"|'([^']*)')""")


@dataclass(frozen=True)
class PublishProfile:
    """The deployment credentials and target of one app or slot, from its publish profile."""

    app: str
    slot: str  # "production" for the app's own profile
    scm_url: str  # https://<app>[-<slot>].scm.azurewebsites.net
    username: str
    password: str = field(repr=False)
    method: str = "MSDeploy"

    @property
    def authorization(self) -> str:
        """The Basic credentials of the profile (masked from the moment they exist)."""
        from release.core.http import basic_authorization

        return basic_authorization(self.username, self.password)


def parse_publish_profile(text: str) -> PublishProfile:
    """The zip-capable profile (``ZipDeploy``, else ``MSDeploy``) of a publish profile XML.

    Every password in the text is registered as a secret before anything else, so that no
    error, not even one about malformed XML, can show it.
    """
    for match in _PASSWORD_ATTRIBUTE.finditer(text):
        _register_password(match.group(1) or match.group(2) or "")
    from xml.etree import ElementTree

    where = f"{PROFILE_ENV} is not a valid publish profile"
    try:
        root = ElementTree.fromstring(text.strip())
    except ElementTree.ParseError as error:
        raise ReleaseError(
            f"{where}: the XML is malformed ({error})",
            "paste the whole file that the Azure portal's 'Download publish profile' gives",
        ) from None
    for profile_element in root.iter("publishProfile"):
        _register_password(profile_element.get("userPWD") or "")
    if root.tag != "publishData":
        raise ReleaseError(f"{where}: its root element is <{root.tag}>, not <publishData>")
    candidates = {(e.get("publishMethod") or ""): e for e in root.iter("publishProfile")}
    # An Element without children is falsy: test for None, never with ``or``.
    element = candidates.get("ZipDeploy")
    if element is None:
        element = candidates.get("MSDeploy")
    if element is None:
        methods = ", ".join(sorted(m for m in candidates if m)) or "none"
        raise ReleaseError(
            f"{where}: it has no MSDeploy or ZipDeploy profile (publish methods: {methods})",
            "download the publish profile of the web app (or slot), not of another service",
        )
    missing = [a for a in ("publishUrl", "userName", "userPWD") if not element.get(a)]
    if missing:
        raise ReleaseError(
            f"{where}: its {element.get('publishMethod')} profile lacks {', '.join(missing)}"
        )
    username = element.get("userName", "")
    password = element.get("userPWD", "")
    host = element.get("publishUrl", "").strip()
    if "://" in host:
        host = urlsplit(host).netloc
    host = host.split("/")[0]
    if host.endswith(":443"):
        host = host[: -len(":443")]
    if ".scm." not in host:
        raise ReleaseError(f"{where}: its publishUrl {host!r} is not an SCM (Kudu) site")
    site = username[1:] if username.startswith("$") else username
    if not site:
        site = element.get("msdeploySite", "")
    app, _, slot = site.partition("__")
    profile = PublishProfile(
        app=app,
        slot=slot or PRODUCTION,
        scm_url=f"https://{host}",
        username=username,
        password=password,
        method=element.get("publishMethod", ""),
    )
    _register_basic_credentials(username, password)
    return profile


def _register_password(password: str) -> None:
    if password:
        console.register_secret(password)


def _register_basic_credentials(username: str, password: str) -> None:
    """Mask the Basic credentials derived from the password, as soon as the password is
    known: the encoded part of ``release.core.http.basic_authorization`` (which the
    checks do not import: it is the HTTP clients' module)."""
    import base64

    console.register_secret(base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))


def read_publish_profile(env: Mapping[str, str]) -> PublishProfile | None:
    """The profile in ``AZURE_WEBAPP_PUBLISH_PROFILE``, or None when it is not set."""
    text = env.get(PROFILE_ENV, "")
    if not text.strip():
        return None
    return parse_publish_profile(text)


def profile_problems(profile: PublishProfile, ui: UI) -> list[str]:
    """A profile of another app or slot than the configured one."""
    problems = []
    if profile.app.lower() != ui.azure_app.lower():
        problems.append(
            f"the publish profile in {PROFILE_ENV} is for app {profile.app!r}, but "
            f"[tool.release.ui] azure-app is {ui.azure_app!r}: use the profile of {ui.azure_app}"
        )
    if profile.slot.lower() != ui.slot.lower():
        problems.append(
            f"the publish profile in {PROFILE_ENV} is for slot {profile.slot!r} of "
            f"{profile.app}, but [tool.release.ui] slot is {ui.slot!r}: download the profile "
            f"of slot {ui.slot!r} (the slot's own 'Download publish profile'), or set slot = "
            f"{profile.slot!r}"
        )
    return problems


def configured_ui(ctx: ReleaseContext) -> UI:
    """``[tool.release.ui]`` of the release, or an error: without it there is no UI to deploy."""
    if ctx.config.ui is None:
        raise ReleaseError("[tool.release.ui] is not configured: there is no UI to deploy")
    return ctx.config.ui


def deploy_api(env: Mapping[str, str]) -> str:
    """Kudu's API for the zip: ``RELEASE_AZURE_DEPLOY_API``, ``zipdeploy`` when unset."""
    value = env.get(DEPLOY_API_ENV, "").strip().lower() or "zipdeploy"
    if value not in DEPLOY_APIS:
        raise ReleaseError(
            f"{DEPLOY_API_ENV}={value!r} is not a deployment API",
            f"use one of {', '.join(DEPLOY_APIS)} (zipdeploy when unset)",
        )
    return value


def scm_base_url(profile: PublishProfile | None, ui: UI, env: Mapping[str, str]) -> str:
    """The SCM site: ``RELEASE_AZURE_SCM_URL``, else the profile's, else the app's default."""
    override = env.get(SCM_URL_ENV, "").strip()
    if override:
        # Only the tests and the demo set the override: the HTTP clients' module is
        # imported for them, where the loopback hosts are defined once.
        from release.core.http import is_loopback

        parts = urlsplit(override)
        local = is_loopback(parts.hostname)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ReleaseError(f"{SCM_URL_ENV}={override!r} is not an http(s) URL")
        if parts.scheme == "http" and not local:
            raise ReleaseError(
                f"{SCM_URL_ENV}={override!r} would send the deployment credentials unencrypted",
                "use https (plain http is accepted for localhost only)",
            )
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    if profile is not None:
        return profile.scm_url
    site = ui.azure_app if ui.slot.lower() == PRODUCTION else f"{ui.azure_app}-{ui.slot}"
    return f"https://{site}.scm.azurewebsites.net"
