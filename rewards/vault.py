"""Encryption at rest for custodial private keys.

The key is derived from ``KOPA_SECRET_KEY`` with HKDF, so rotating nothing else is needed
to keep keys unreadable from a database dump alone. Each ciphertext is bound to the
address it belongs to (AES-GCM associated data): swapping two rows fails to decrypt.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"k1"


class KeyVault:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to protect wallet keys")
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"kopa-wallets", info=b"aes-gcm-v1"
        ).derive(secret_key.encode())
        self._aead = AESGCM(derived)

    def encrypt(self, private_key: bytes, address: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, private_key, address.lower().encode())

    def decrypt(self, blob: bytes, address: str) -> bytes:
        if blob[:2] != _VERSION:
            raise ValueError("unknown key encryption version")
        nonce, ciphertext = blob[2:14], blob[14:]
        return self._aead.decrypt(nonce, ciphertext, address.lower().encode())
