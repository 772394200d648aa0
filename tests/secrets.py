"""The forms a secret may take in the tool's outputs, for tests that search for leaks."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus


def encoded_forms(secret: str) -> dict[str, str]:
    """Every form in which ``secret`` could reach an output: {form: what it is}.

    The value itself and, for a multi-line secret, each line; each JSON-, Markdown-,
    percent-, form- and workflow-command-escaped and base64-encoded.
    """
    parts = {"": secret}
    lines = [line for line in re.split(r"\r\n|\r|\n", secret) if line]
    if len(lines) > 1:
        parts.update({f"line {n} ": line for n, line in enumerate(lines, 1)})
    found: dict[str, str] = {}
    for label, part in parts.items():
        found[part] = f"{label}raw"
        found[json.dumps(part)[1:-1]] = f"{label}JSON-escaped"
        found[part.replace("|", "\\|").replace("<", "&lt;")] = f"{label}Markdown-escaped"
        found[quote(part, safe="")] = f"{label}percent-encoded"
        found[quote_plus(part)] = f"{label}form-encoded"
        workflow = part.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        found[workflow] = f"{label}workflow-command-escaped"
        found[base64.b64encode(part.encode()).decode()] = f"{label}base64"
    return found
