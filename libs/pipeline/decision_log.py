"""The decision log on the wire: records sealed with a per-customer key.

A delete-policy topic cannot drop one customer's records, and the log keeps
them for weeks. So each record is encrypted (AES-GCM) with a key of its
customer's own, kept in stage 2's compacted ``decision-log-keys`` table;
erasure deletes the key (a tombstone on the table's changelog, compacted
away within ``ERASED_WITHIN_MS``) and every record of the customer still on
the log is noise from then on: crypto-shredding. Records are keyed by the key's
id (``log_subject``), not the customer id, so the noise names no one either.
A customer seen again after erasure gets a new key, which opens none of the
old records.

A sealed value is ``VERSION | key id (8) | nonce (12) | ciphertext and tag``.
The customer id is authenticated data: a record copied under another
customer's key does not open.
"""

from __future__ import annotations

import os
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_VERSION: Final = b"\x01"
KEY_ID_BYTES: Final = 8
KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # random per record: 2^32 records per key before a collision matters
_HEADER: Final = 1 + KEY_ID_BYTES + NONCE_BYTES


class LogKey(NamedTuple):
    """One customer's key; ``key_id`` names it in each record it sealed."""

    key_id: bytes
    secret: bytes

    def to_bytes(self) -> bytes:
        return self.key_id + self.secret

    @classmethod
    def from_bytes(cls, data: bytes) -> LogKey:
        if len(data) != KEY_ID_BYTES + KEY_BYTES:
            raise ValueError(f"a decision log key is {KEY_ID_BYTES + KEY_BYTES} bytes")
        return cls(data[:KEY_ID_BYTES], data[KEY_ID_BYTES:])

    @classmethod
    def generate(cls) -> LogKey:
        return cls(os.urandom(KEY_ID_BYTES), AESGCM.generate_key(bit_length=KEY_BYTES * 8))


def log_subject(key: LogKey) -> bytes:
    """The record key a customer's records carry on the log: their key's id, not
    their customer id. Random per key, so once erasure deletes the key nothing on
    the log says whose records these were, or when that customer was decided
    for; the records go to the customer's partition all the same."""
    return key.key_id.hex().encode()


class Unreadable(ValueError):
    """A sealed record this key cannot open: another key (erased, or another
    customer's), or damaged bytes."""


class LogSealer(NamedTuple):
    """A customer's key with its AES-GCM cipher made once: stage 2 seals a record
    with the same customer's key on each of their decisions, and making the
    cipher and parsing the key cost about as much as the encryption itself."""

    key: LogKey
    cipher: AESGCM

    @classmethod
    def for_key(cls, key: LogKey) -> LogSealer:
        return cls(key, AESGCM(key.secret))

    @classmethod
    def from_bytes(cls, data: bytes) -> LogSealer:
        """From a key as the key table stores it (``LogKey.to_bytes``)."""
        return cls.for_key(LogKey.from_bytes(data))

    def seal(self, customer_id: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.cipher.encrypt(nonce, plaintext, customer_id.encode())
        return SEALED_VERSION + self.key.key_id + nonce + sealed


def seal(key: LogKey, customer_id: str, plaintext: bytes) -> bytes:
    return LogSealer.for_key(key).seal(customer_id, plaintext)


def key_id_of(sealed: bytes) -> bytes:
    if len(sealed) <= _HEADER or sealed[:1] != SEALED_VERSION:
        raise Unreadable("not a sealed decision log record")
    return sealed[1 : 1 + KEY_ID_BYTES]


def open_sealed(key: LogKey, customer_id: str, sealed: bytes) -> bytes:
    """The plaintext, or Unreadable."""
    if key_id_of(sealed) != key.key_id:
        raise Unreadable("sealed with another key")
    nonce = sealed[1 + KEY_ID_BYTES : _HEADER]
    try:
        return AESGCM(key.secret).decrypt(nonce, sealed[_HEADER:], customer_id.encode())
    except InvalidTag as error:
        raise Unreadable("the record does not open with this key") from error
