"""A local server that behaves as Discord's webhook endpoints do (a contract server).

Discord cannot run here, so tests and ``invoke demo`` talk to this server, which
follows the documented contract of the endpoints the release tool uses:

- ``GET /api/webhooks/<id>/<token>``: the webhook object (with ``channel_id``, ``guild_id``);
- ``POST /api/webhooks/<id>/<token>?wait=true``: posts and returns the message object
  (``id``, ``channel_id``, ``content``, ``embeds``, ``timestamp``...); without
  ``wait=true`` it answers ``204`` with no body;
- ``PATCH`` and ``GET /api/webhooks/<id>/<token>/messages/<message_id>``: edits or
  returns a message the webhook posted (``404`` ``Unknown Message``, code 10008);
- an unknown webhook id is ``404`` ``{"message": "Unknown Webhook", "code": 10015}``;
  a known id with another token is ``401`` ``Invalid Webhook Token`` (code 50027), as
  Discord answers;
- a message over Discord's limits (content 2,000; embed title 256, description 4,096,
  25 fields, field name 256 and value 1,024, footer 2,048, 6,000 in total; at most 10
  embeds) is ``400`` with Discord's error body, ``{"code": 50035, "message": "Invalid
  Form Body", "errors": {"embeds": {"0": {"description": {"_errors": [{"code":
  "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}}``. Lengths
  are counted in UTF-16 code units, the stricter of the two ways of counting.

Faults on demand (``fail_next``): ``429`` with ``retry_after`` in the body (and a
``Retry-After`` header, or the header alone), any ``5xx``, and an answer that never
comes (``hang``: the message is posted, or not, and the connection is held open until
the client gives up). Every request is kept in ``requests`` (the token replaced by
``<token>``) and every message in ``messages``, for assertions.

This module implements the contract independently of ``release.steps.notify.announcement``: a
mistake in the tool's limits is caught here, not repeated.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devservices import LOCALHOST, ThreadedHttpService

_PATH = re.compile(
    r"^/api(?:/v\d+)?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)(?:/messages/(?P<message>[^/]+))?/?$"
)
_LIMITS = {"title": 256, "description": 4096, "footer.text": 2048, "author.name": 256}


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _max_length(limit: int) -> dict[str, Any]:
    return _error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def message_errors(body: Any) -> dict[str, Any]:
    """Discord's ``errors`` object for a message body (empty: the body is acceptable)."""
    errors: dict[str, Any] = {}
    if not isinstance(body, dict):
        return {
            "_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used."}]
        }
    content = body.get("content")
    if isinstance(content, str) and _length(content) > 2000:
        errors["content"] = _max_length(2000)
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list):
        return {
            "embeds": {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Must be an array."}]}
        }
    if len(embeds) > 10:
        errors["embeds"] = _max_length(10)
        return errors
    embed_errors: dict[str, Any] = {}
    total_size = 0
    for index, embed in enumerate(embeds):
        found: dict[str, Any] = {}
        if not isinstance(embed, dict):
            embed_errors[str(index)] = {
                "_errors": [
                    {"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used."}
                ]
            }
            continue
        texts = {
            "title": embed.get("title"),
            "description": embed.get("description"),
            "footer.text": (embed.get("footer") or {}).get("text"),
            "author.name": (embed.get("author") or {}).get("name"),
        }
        for key, text in texts.items():
            if not isinstance(text, str):
                continue
            total_size += _length(text)
            if _length(text) > _LIMITS[key]:
                parent, _, child = key.partition(".")
                target = found.setdefault(parent, {}) if child else found
                target[child or key] = _max_length(_LIMITS[key])
        fields = embed.get("fields") or []
        if len(fields) > 25:
            found["fields"] = _max_length(25)
        for number, item in enumerate(fields[:25]):
            name = str(item.get("name", "")) if isinstance(item, dict) else ""
            value = str(item.get("value", "")) if isinstance(item, dict) else ""
            total_size += _length(name) + _length(value)
            problems: dict[str, Any] = {}
            for key, text, limit in (("name", name, 256), ("value", value, 1024)):
                if not text.strip():
                    problems[key] = {
                        "_errors": [
                            {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                        ]
                    }
                elif _length(text) > limit:
                    problems[key] = _max_length(limit)
            if problems:
                found.setdefault("fields", {})[str(number)] = problems
        if found:
            embed_errors[str(index)] = found
    if embed_errors:
        errors["embeds"] = embed_errors
    elif total_size > 6000:
        errors["embeds"] = _error(
            "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    return errors


@dataclass
class Fault:
    """One answer the server gives instead of the normal one."""

    status: int  # 429, 5xx, or 0 for an answer that never comes
    method: str | None = "POST"  # None: any method
    retry_after: float = 0.0
    header_only: bool = False  # 429: only the Retry-After header, no JSON body
    post_first: bool = True  # hang: the message is posted before the answer is withheld


@dataclass
class Received:
    """A request as the server saw it (the token replaced by ``<token>``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int = 0


@dataclass
class _State:
    webhook_id: str
    token: str
    channel_id: str
    guild_id: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    next_id: int = 1_180_000_000_000_000_000
    released: threading.Event = field(default_factory=threading.Event)
    journal: Path | None = None  # the messages, rewritten after every post and edit

    def write_journal(self) -> None:
        """Write the messages to the journal (called with the lock held)."""
        if self.journal is not None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self.journal.write_text(json.dumps(self.messages, indent=2) + "\n", encoding="utf-8")


class DiscordWebhookServer(ThreadedHttpService):
    """A webhook on 127.0.0.1: ``url`` is what ``DISCORD_WEBHOOK_URL`` would hold.

    Use as a context manager or ``start()``/``stop()``. ``webhook_id`` and ``token``
    default to values shaped like Discord's (the token random per server).
    """

    name = "discord-contract"

    def __init__(
        self,
        webhook_id: str = "1234567890123456789",
        token: str | None = None,
        *,
        journal: Path | None = None,
    ) -> None:
        super().__init__()
        self._state = _State(
            webhook_id=webhook_id,
            token=token or secrets.token_urlsafe(51),
            channel_id="1111111111111111111",
            guild_id="2222222222222222222",
            journal=journal,
        )

    # -- lifecycle -------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        self._state.released.clear()  # a server started again holds answers again
        return type("Handler", (_Handler,), {"state": self._state})

    def stop(self) -> None:
        self._state.released.set()  # lets a held answer go
        super().stop()

    # -- what tests use ----------------------------------------------------------

    @property
    def webhook_id(self) -> str:
        return self._state.webhook_id

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def channel_id(self) -> str:
        return self._state.channel_id

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/api/webhooks/{self.webhook_id}/{self.token}"

    def env(self) -> dict[str, str]:
        """The environment that points the release tool at this webhook."""
        return {"DISCORD_WEBHOOK_URL": self.url}

    def describe(self) -> str:
        """One line for people (the token left out)."""
        where = f"; messages in {self._state.journal}" if self._state.journal else ""
        return (
            f"Discord webhook (contract server): http://{LOCALHOST}:{self.port}"
            f"/api/webhooks/{self.webhook_id}/<token>{where}"
        )

    def url_for(self, webhook_id: str, token: str) -> str:
        """A webhook URL on this server with another id or token (404 / 401)."""
        return f"http://{LOCALHOST}:{self.port}/api/webhooks/{webhook_id}/{token}"

    @property
    def messages(self) -> dict[str, dict[str, Any]]:
        """The messages posted, by id (a copy)."""
        with self._state.lock:
            copy: dict[str, dict[str, Any]] = json.loads(json.dumps(self._state.messages))
        return copy

    @property
    def requests(self) -> list[Received]:
        with self._state.lock:
            return list(self._state.requests)

    def received(self, method: str) -> list[Received]:
        return [r for r in self.requests if r.method == method]

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        method: str | None = "POST",
        retry_after: float = 0.0,
        header_only: bool = False,
    ) -> None:
        """Answer the next ``count`` requests (of ``method``) with ``status`` (429 or 5xx)."""
        with self._state.lock:
            for _ in range(count):
                self._state.faults.append(Fault(status, method, retry_after, header_only))

    def hang_next(self, *, method: str | None = "POST", post_first: bool = True) -> None:
        """Never answer the next request (of ``method``); with ``post_first`` the message
        is posted all the same, as when Discord posted it and the answer was lost."""
        with self._state.lock:
            self._state.faults.append(Fault(0, method, post_first=post_first))

    def delete_message(self, message_id: str) -> None:
        """Remove a message, as a moderator deleting it in the channel would."""
        with self._state.lock:
            self._state.messages.pop(message_id, None)

    def reset(self) -> None:
        """Forget messages, requests and pending faults."""
        with self._state.lock:
            self._state.messages.clear()
            self._state.requests.clear()
            self._state.faults.clear()


class _Handler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"
    server_version = "discord-contract/1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read ``requests`` instead

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = ValueError
        state = self.state
        shown = parts.path.replace(state.token, "<token>") if state.token else parts.path
        received = Received(method, shown, query, None if body is ValueError else body)
        with state.lock:
            state.requests.append(received)
            fault = self._take_fault(method)
        match = _PATH.match(parts.path)
        if fault is not None and fault.status == 0:
            if fault.post_first and match and method == "POST" and isinstance(body, dict):
                self._route(method, match, query, body, received, answer=False)
            state.released.wait(timeout=120)
            self.close_connection = True
            return
        if fault is not None:
            self._fault(fault, received)
            return
        if match is None:
            self._send(404, {"message": "404: Not Found", "code": 0}, received)
            return
        self._route(method, match, query, body, received)

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.method is None or fault.method == method:
                self.state.faults.remove(fault)
                return fault
        return None

    def _fault(self, fault: Fault, received: Received) -> None:
        if fault.status == 429:
            headers = {
                "Retry-After": _header_seconds(fault.retry_after),
                "X-RateLimit-Scope": "shared",
            }
            if fault.header_only:
                self._send(429, None, received, headers, text="rate limited")
                return
            body = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": False,
            }
            self._send(429, body, received, headers)
            return
        self._send(fault.status, None, received, text="upstream error")

    def _route(
        self,
        method: str,
        match: re.Match[str],
        query: dict[str, list[str]],
        body: Any,
        received: Received,
        *,
        answer: bool = True,
    ) -> None:
        state = self.state
        if match.group("id") != state.webhook_id:
            self._send(404, {"message": "Unknown Webhook", "code": 10015}, received)
            return
        if match.group("token") != state.token:
            self._send(401, {"message": "Invalid Webhook Token", "code": 50027}, received)
            return
        message_id = match.group("message")
        if message_id is None and method == "GET":
            self._send(200, self._webhook_object(), received)
            return
        if body is ValueError:
            self._send(400, {"message": "400: Bad Request", "code": 50109}, received)
            return
        if message_id is None and method == "POST":
            self._execute(query, body, received, answer)
            return
        if message_id is not None and method in ("GET", "PATCH", "DELETE"):
            self._message(method, message_id, body, received)
            return
        self._send(405, {"message": "405: Method Not Allowed", "code": 0}, received)

    def _webhook_object(self) -> dict[str, Any]:
        state = self.state
        return {
            "type": 1,
            "id": state.webhook_id,
            "name": "Releases",
            "avatar": None,
            "channel_id": state.channel_id,
            "guild_id": state.guild_id,
            "application_id": None,
            "token": state.token,
        }

    def _execute(
        self, query: dict[str, list[str]], body: Any, received: Received, answer: bool
    ) -> None:
        invalid = self._invalid(body)
        if invalid is not None:
            if answer:
                self._send(400, invalid, received)
            return
        state = self.state
        with state.lock:
            message_id = str(state.next_id)
            state.next_id += 1
            message = {
                "id": message_id,
                "type": 0,
                "channel_id": state.channel_id,
                "webhook_id": state.webhook_id,
                "author": {"id": state.webhook_id, "username": "Releases", "bot": True},
                "content": body.get("content") or "",
                "embeds": [dict(e, type="rich") for e in body.get("embeds") or []],
                "attachments": [],
                "mentions": [],
                "timestamp": _now(),
                "edited_timestamp": None,
                "flags": 0,
            }
            state.messages[message_id] = message
            state.write_journal()
        if not answer:
            return
        if query.get("wait", ["false"])[0].lower() == "true":
            self._send(200, message, received)
        else:
            self._send(204, None, received)

    def _message(self, method: str, message_id: str, body: Any, received: Received) -> None:
        state = self.state
        with state.lock:
            message = state.messages.get(message_id)
        if message is None:
            self._send(404, {"message": "Unknown Message", "code": 10008}, received)
            return
        if method == "GET":
            self._send(200, message, received)
            return
        if method == "DELETE":
            with state.lock:
                state.messages.pop(message_id, None)
            self._send(204, None, received)
            return
        invalid = self._invalid(body, edit=True)
        if invalid is not None:
            self._send(400, invalid, received)
            return
        with state.lock:
            if "content" in body:
                message["content"] = body["content"] or ""
            if "embeds" in body:
                message["embeds"] = [dict(e, type="rich") for e in body["embeds"] or []]
            message["edited_timestamp"] = _now()
            state.write_journal()
            snapshot = json.loads(json.dumps(message))
        self._send(200, snapshot, received)

    @staticmethod
    def _invalid(body: Any, edit: bool = False) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            return {"message": "Cannot send an empty message", "code": 50006}
        if not edit and not body.get("content") and not body.get("embeds"):
            return {"message": "Cannot send an empty message", "code": 50006}
        errors = message_errors(body)
        if errors:
            return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
        return None

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: Any,
        received: Received,
        headers: dict[str, str] | None = None,
        text: str | None = None,
    ) -> None:
        received.status = status
        payload = b""
        content_type = "application/json"
        if body is not None:
            payload = json.dumps(body).encode()
        elif text is not None:
            payload, content_type = text.encode(), "text/plain"
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


@contextmanager
def demo_server(workdir: Path) -> Iterator[DiscordWebhookServer]:
    """The webhook ``invoke demo`` releases into; messages land in ``workdir/messages.json``."""
    with DiscordWebhookServer(journal=workdir / "messages.json") as server:
        yield server


def _header_seconds(seconds: float) -> str:
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _now() -> str:
    return datetime.now(tz=UTC).isoformat()
