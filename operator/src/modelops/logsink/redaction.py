"""Redaction: input columns named in the configuration are dropped or hashed before a record is
spooled, written or counted — no raw value of them ever reaches a disk or a log line.

Owns the two transformations and the hashing of a lookup value (``modelops trace --key`` and key
labels hash what they search for the same way, so a hashed column still joins and traces).

Hashing is HMAC-SHA256 with a secret key (``redaction.hashKeyFile``): a plain hash of a national
id or a phone number is reversed by hashing every possible value; without the key it is not.
The value hashed is its JSON text (``"L-1234"`` and ``1234`` hash differently, as they differ).
Feature names are matched exactly as they appear in rows (see payloads.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelops.logsink.config import RedactionSettings

HASH_PREFIX = "hmac-sha256:"


class Redactor:
    def __init__(self, drop: Iterable[str] = (), hash_: Iterable[str] = (), key: str | None = None) -> None:
        self.drop = frozenset(drop)
        self.hash = frozenset(hash_)
        if self.hash and not key:
            raise ValueError("hashing columns needs a key")
        self._key = (key or "").encode()
        self.active = bool(self.drop or self.hash)

    @classmethod
    def from_settings(cls, settings: RedactionSettings) -> Redactor:
        from modelops.logsink.config import ENV_HASH_KEY, read_secret

        return cls(settings.drop, settings.hash, read_secret(settings.hash_key_file, ENV_HASH_KEY))

    def hash_value(self, value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest

    def features(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows with dropped columns removed and hashed ones replaced (new dicts; None stays None)."""
        if not self.active:
            return rows
        out = []
        for row in rows:
            clean = {}
            for name, value in row.items():
                if name in self.drop:
                    continue
                clean[name] = self.hash_value(value) if name in self.hash and value is not None else value
            out.append(clean)
        return out

    def lookup(self, column: str, value: Any) -> Any:
        """What to search ``column`` for: the stored form of ``value``; a dropped column raises."""
        if column in self.drop:
            raise ValueError(f"column {column!r} is dropped by redaction: nothing can be found by it")
        return self.hash_value(value) if column in self.hash else value
