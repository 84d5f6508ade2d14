"""What the authoring pages share: reading forms into the API's models, a bounded preview cache.

Not a section of its own: :mod:`~control_instance.console.views.event_types` and
:mod:`~control_instance.console.views.templates` use it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from control_instance.accounts.schemas import NAME_PATTERN as ACCOUNT_NAME_PATTERN
from control_instance.accounts.schemas import URL_PATTERN
from control_instance.auth.schemas import LOGIN_PATTERN
from control_instance.event_types.schemas import EVENT_TYPE_PATTERN
from control_instance.templates.schemas import NAME_PATTERN as TEMPLATE_NAME_PATTERN
from services.ui.forms import invalid_form

__all__ = ["PATTERN_HINTS", "PreviewCache", "parse_form", "text_fields"]

#: What each pattern of the API's models asks for, in the words of a form's field.
PATTERN_HINTS = {
    # Event type and account names share one pattern (and so one hint).
    EVENT_TYPE_PATTERN: "Start with a letter, then letters, digits or _ (64 at most).",
    TEMPLATE_NAME_PATTERN: "Start with a letter, then letters, digits, _ . or - (64 at most).",
    ACCOUNT_NAME_PATTERN: "Start with a letter, then letters, digits or _ (64 at most).",
    URL_PATTERN: "Enter a web address starting with http:// or https://, "
    "such as http://127.0.0.1:8083.",
    LOGIN_PATTERN: "Use letters, digits and _ . @ - only (64 at most).",
}

M = TypeVar("M", bound=BaseModel)


def parse_form(model: type[M], **data: Any) -> M:
    """Return ``model`` built from form values; a refusal is an InvalidRequest naming the field,
    in plain words (shown next to it)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_form(exc, PATTERN_HINTS) from None


def text_fields(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """Return the named text fields a form sent, with LF line ends (browsers send CRLF)."""
    found: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str):
            found[name] = value.replace("\r\n", "\n")
    return found


@dataclass(frozen=True)
class _Entry:
    template_id: int
    html: str
    expires: float


class PreviewCache:
    """Rendered HTML previews by random key: at most ``size`` entries, each for ``ttl`` seconds.

    A preview frame is loaded by the browser with its own request (never ``srcdoc``, which would
    inherit the page's policy), so the rendered HTML waits here under an unguessable key.
    """

    def __init__(self, size: int = 200, ttl: float = 600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, template_id: int, html: str) -> str:
        """Keep ``html`` and return its key; the oldest entries go when the cache is full."""
        key = secrets.token_urlsafe(18)
        now = time.monotonic()
        with self._lock:
            self._drop_expired(now)
            self._entries[key] = _Entry(template_id, html, now + self.ttl)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return key

    def get(self, template_id: int, key: str) -> str | None:
        """Return the HTML kept under ``key`` for this template, or None (unknown or expired)."""
        with self._lock:
            self._drop_expired(time.monotonic())
            entry = self._entries.get(key)
        if entry is None or entry.template_id != template_id:
            return None
        return entry.html

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _drop_expired(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                break
            del self._entries[key]
