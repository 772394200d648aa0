"""Upload credentials for the package index, in twine's order, and URLs shown without them.

The order (docs/configuration.md "Configuration"): ``TWINE_USERNAME``/``TWINE_PASSWORD``, then the
user information of the upload URL (``https://user:password@host/legacy/``, as twine reads it),
then the ``~/.pypirc`` entry whose ``repository`` is the upload URL (twine's implicit ``pypi`` and
``testpypi`` entries included), then the keyring, then trusted publishing: from GitHub Actions
with ``id-token: write`` to any index that offers it (``/_/oidc/audience``), from the other CIs
that ``id`` knows to PyPI and TestPyPI. twine itself only ever sees the URL without its user
information.

``credential_problem`` checks, read only and without prompting, that one of them will be
found (the upload's pre-flight); ``credentials`` resolves them with twine itself when the
upload starts, except trusted publishing, which is the tool's own
(``release.steps.pypi.oidc``: twine's exchange cannot renew a token that expires during the
upload, and speaks only HTTPS to fixed paths): twine never mints a token. Every password or
token is registered with the console's mask when read or minted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import basic_authorization, public_url, url_credentials

if TYPE_CHECKING:
    from twine.settings import Settings

    from release.run.context import ReleaseContext
    from release.steps.pypi.oidc import TrustedPublisher

# twine logs through the logging module; keep its records away from stderr (unmasked).
logging.getLogger("twine").addHandler(logging.NullHandler())
logging.getLogger("twine").propagate = False

PYPI_HOSTS = {"upload.pypi.org": "pypi", "test.pypi.org": "testpypi"}
PYPIRC = "~/.pypirc"  # twine's default configuration file


def is_pypi(url: str) -> bool:
    return (urlsplit(url).hostname or "") in PYPI_HOSTS


def pypirc_section(url: str, config_file: str = PYPIRC) -> str | None:
    """The ``.pypirc`` section whose ``repository`` is ``url`` (twine's pypi/testpypi included)."""
    path = os.path.expanduser(config_file)
    if not os.path.exists(path):
        return None
    from twine.utils import get_config  # imports requests: only when there is a file to read

    try:
        sections = get_config(path)
    except Exception:  # noqa: BLE001 - a malformed file is reported by twine itself on upload
        return None
    wanted = url.rstrip("/")
    for name, entry in sections.items():
        if str(entry.get("repository") or "").rstrip("/") == wanted:
            return name
    return None


def twine_settings(ctx: ReleaseContext) -> Settings:
    """twine's settings for the upload URL, credentials resolved in twine's order on use."""
    from twine.exceptions import TwineException
    from twine.settings import Settings

    url_user, url_password = _userinfo(ctx.config.pypi.repository_url)
    url = public_url(ctx.config.pypi.repository_url)  # twine never sees the URL's credentials
    env = ctx.env
    section = pypirc_section(url)
    where: dict[str, Any] = {"repository_name": section} if section else {"repository_url": url}
    try:
        return Settings(
            username=env.get("TWINE_USERNAME") or url_user,
            password=env.get("TWINE_PASSWORD") or url_password,
            non_interactive=True,
            config_file=PYPIRC,
            disable_progress_bar=True,
            **where,
        )
    except TwineException as error:
        raise ReleaseError(f"twine cannot use {public_url(url)}: {error}") from None


class Credentials(NamedTuple):
    """The resolved upload credentials and twine's TLS settings for the upload URL (a named
    tuple, not a dataclass: this module is loaded by the upload's offline pre-flight).

    With trusted publishing, ``password`` is the first minted token and ``publisher`` mints
    the next ones (the upload session's ``auth``)."""

    username: str
    password: str
    cacert: str | None
    client_cert: str | None
    publisher: TrustedPublisher | None = None

    def __repr__(self) -> str:
        # Never the password, should one of these reach a log or a traceback.
        return (
            f"Credentials(username={self.username!r}, password='***', "
            f"cacert={self.cacert!r}, client_cert={self.client_cert!r})"
        )


def credentials(ctx: ReleaseContext) -> Credentials:
    """The upload credentials: resolved by twine (env, URL, .pypirc, keyring), else minted by
    trusted publishing (``release.steps.pypi.oidc``), never by twine's own exchange."""
    from twine.exceptions import TwineException

    password = ctx.env.get("TWINE_PASSWORD")
    console.register_secret(password)
    settings = twine_settings(ctx)
    url = ctx.config.pypi.repository_url
    username, found = _found(url, ctx.env)
    if not found and username in (None, TOKEN_USERNAME):
        from release.steps.pypi.oidc import TrustedPublisher, unavailable

        if not _trusted_publishing_possible(url, ctx.env):
            raise ReleaseError(
                f"no upload credentials for {public_url(url)}, and "
                f"{unavailable(url, ctx.env, probe=False)}",
                CREDENTIALS_HINT,
            )
        publisher = TrustedPublisher(url, ctx.env)
        token = publisher.token()  # minted now: a refusal stops here, before any upload
        return Credentials(TOKEN_USERNAME, token, settings.cacert, settings.client_cert, publisher)
    try:
        username = settings.username
        password = settings.password
    except TwineException as error:
        raise ReleaseError(
            f"no upload credentials for {public_url(ctx.config.pypi.repository_url)} ({error})",
            CREDENTIALS_HINT,
        ) from None
    console.register_secret(password)
    if not username or not password:
        raise ReleaseError(
            f"no upload credentials for {public_url(ctx.config.pypi.repository_url)}",
            CREDENTIALS_HINT,
        )
    basic_authorization(username, password)  # the header's form is masked too
    return Credentials(username, password, settings.cacert, settings.client_cert)


TOKEN_USERNAME = "__token__"  # the user name of API tokens (PyPI's and trusted publishing's)

CREDENTIALS_HINT = (
    "set TWINE_USERNAME and TWINE_PASSWORD (an API token: TWINE_USERNAME=__token__), add a "
    "~/.pypirc entry whose repository is this URL, store them in the keyring, or use trusted "
    "publishing (from GitHub Actions with `permissions: id-token: write` to an index that "
    "offers it, such as PyPI; from another CI to PyPI/TestPyPI)"
)


def credential_problem(
    url: str, env: Mapping[str, str], config_file: str = PYPIRC, *, offline: bool = False
) -> str | None:
    """Why no upload credentials will be found for ``url`` (None: some will), read only.

    The same order as twine: environment, the URL's user information, .pypirc entry,
    keyring, trusted publishing; no prompt, nothing minted. For trusted publishing to an
    index other than PyPI and TestPyPI, the index is asked for its audience (a GET; not
    ``offline``); in GitHub Actions the job's ID-token variables must be there.
    """
    username, password = _found(url, env, config_file)
    if username and password:
        return None
    if password and not username:
        return (
            f"a password for {public_url(url)} but no username: set TWINE_USERNAME "
            "(or username in the ~/.pypirc entry)"
        )
    if username in (None, TOKEN_USERNAME):
        from release.steps.pypi.oidc import unavailable

        why = unavailable(url, env, probe=not offline)
        if why is None:
            return None
        return f"no upload credentials for {public_url(url)}, and {why}: {CREDENTIALS_HINT}"
    return f"no upload credentials for {public_url(url)} (a username but no password): " + (
        CREDENTIALS_HINT
    )


def _found(
    url: str, env: Mapping[str, str], config_file: str = PYPIRC
) -> tuple[str | None, str | None]:
    """The username and password that twine would find for ``url`` before trusted
    publishing (environment, the URL's user information, .pypirc entry, keyring), each
    None when absent; the password is masked from here on."""
    url_user, url_password = _userinfo(url)
    url = public_url(url)  # the URL as twine_settings hands it to twine
    console.register_secret(env.get("TWINE_PASSWORD"))
    entry = _pypirc_entry(url, config_file)
    username = env.get("TWINE_USERNAME") or url_user or entry.get("username")
    password = env.get("TWINE_PASSWORD") or url_password or entry.get("password")
    if not username:
        username = _keyring_username(url) or (TOKEN_USERNAME if is_pypi(url) else None)
    if not password and username:
        password = _keyring_password(url, username)
    console.register_secret(password)
    return username or None, password or None


def _trusted_publishing_possible(url: str, env: Mapping[str, str]) -> bool:
    """Whether trusted publishing is worth trying for ``url``: from GitHub Actions (any
    index; the exchange itself says when the index offers none), or to PyPI and TestPyPI
    (``id`` finds another CI's identity, or says there is none)."""
    from release.steps.pypi.oidc import in_github_actions

    return in_github_actions(env) or is_pypi(url)


def _userinfo(url: str) -> tuple[str | None, str | None]:
    """The user and password of ``url`` (None for each that is absent), masked from now on."""
    found = url_credentials(url)
    if found is None:
        return None, None
    return found[0] or None, found[1] or None


def _pypirc_entry(url: str, config_file: str = PYPIRC) -> dict[str, str]:
    section = pypirc_section(url, config_file)
    if section is None:
        return {}
    from twine.utils import get_config

    entry = get_config(os.path.expanduser(config_file))[section]
    console.register_secret(str(entry.get("password") or ""))
    return {k: str(v) for k, v in entry.items() if v}


def _keyring_username(url: str) -> str | None:
    try:
        import keyring

        credential = keyring.get_credential(url, None)
    except Exception:  # noqa: BLE001 - no keyring backend is the common case; twine ignores it too
        return None
    return credential.username if credential else None


def _keyring_password(url: str, username: str) -> str | None:
    try:
        import keyring

        password: str | None = keyring.get_password(url, username)
    except Exception:  # noqa: BLE001 - as above
        return None
    return password
