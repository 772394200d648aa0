"""A host that is not this machine to the plain-HTTP rule: an HTTP server on a non-loopback
address of this machine, recording every request (for tests that send it nothing)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def outside_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (None: there is none)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the interface
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


class Listener:
    """An HTTP server on ``address`` answering 200 to anything; ``url`` ends in ``path``,
    ``requests`` holds each request's method, path and ``Authorization`` header."""

    def __init__(self, address: str, path: str = "/") -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                seen.append(f"{self.command} {self.path} {self.headers.get('Authorization')}")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{address}:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
