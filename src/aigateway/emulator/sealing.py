"""Reasoning `encrypted_content` blobs, signed per emulator instance.

Azure decrypts a replayed blob with the resource's own key and refuses one made elsewhere
(`invalid_encrypted_content`). An HMAC over the blob with a secret born with each emulator instance gives the
same property: a blob verifies only where it was made. The blob stays opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "gAAAAA"  # what Azure's (Fernet-style) blobs start with
_MAC_BYTES = hashlib.sha256().digest_size


class ReasoningSealer:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def seal(self, deployment_name: str) -> str:
        payload = b"emulator-reasoning:" + deployment_name.encode() + b":" + secrets.token_bytes(48)
        return PREFIX + base64.urlsafe_b64encode(self._mac(payload) + payload).decode()

    def verify(self, blob: object) -> bool:
        """True only for a blob this instance sealed (and nobody altered)."""
        if not isinstance(blob, str) or not blob.startswith(PREFIX):
            return False
        try:
            raw = base64.urlsafe_b64decode(blob[len(PREFIX) :].encode())
        except (binascii.Error, ValueError):
            return False
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        return bool(payload) and hmac.compare_digest(mac, self._mac(payload))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()
