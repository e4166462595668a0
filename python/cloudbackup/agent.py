"""The agent's side of the service: its RSA key pair (the other half of the
vault-password flow) and the mapping between the service's integer
``snapshot_id`` and a vault snapshot's hex id. Thin wrappers over the core.

An agent generates a key once (:meth:`AgentKey.generate`), stores
:meth:`AgentKey.to_der` as a secret, registers or reports
:meth:`AgentKey.public_key` (v1 ``PublicKey``) or
:meth:`AgentKey.rsa_public_key` (v2 ``rsa_public_key``), and decrypts the
``EncryptedPassword`` / ``encrypted_password_hex`` users send it with
:meth:`AgentKey.decrypt_password` (what
:func:`cloudbackup.encrypt_password_for_agent` makes).
"""

from __future__ import annotations

from typing import Dict, Union

from . import _native
from .shapes import PublicKeyV1, RsaPublicKey

__all__ = ["AgentKey", "snapshot_id_for", "vault_snapshot_prefix"]

_Buffer = Union[bytes, bytearray, memoryview]


class AgentKey:
    """An agent's RSA key pair; the private key is wiped in the core when the
    key is dropped (copies returned by :meth:`to_der` are the caller's)."""

    __slots__ = ("_key",)

    def __init__(self, key: _native.AgentKey) -> None:
        self._key = key

    @classmethod
    def generate(cls, bits: int = 2048) -> "AgentKey":
        """A new key pair of ``bits`` bits (a multiple of 8 from 1024 to
        8192), public exponent 0x10001.

        Raises:
            InvalidArgument: another size.
        """
        return cls(_native.AgentKey.generate(bits))

    @classmethod
    def from_der(cls, der: _Buffer) -> "AgentKey":
        """Reads a private key stored as DER: PKCS#8 (what :meth:`to_der`
        writes) or PKCS#1.

        Raises:
            InvalidValue: bytes that are no sound RSA private key.
        """
        return cls(_native.AgentKey.from_der(der))

    def to_der(self) -> bytes:
        """The private key as PKCS#8 DER: store it as a secret."""
        return self._key.to_der()

    @property
    def bits(self) -> int:
        """The modulus size in bits."""
        return self._key.bits

    def public_key(self) -> PublicKeyV1:
        """The public key in v1's form: ``{"ModulusHex", "ExponentHex"}``."""
        return self._key.public_key()

    def rsa_public_key(self) -> RsaPublicKey:
        """The public key in v2's form: ``{"modulus", "exponent"}``."""
        return self._key.rsa_public_key()

    def decrypt_password(self, encrypted_password_hex: str) -> str:
        """The passphrase of ``EncryptedPassword`` (v1) or
        ``encrypted_password_hex`` (v2): hex of an RSA PKCS#1 v1.5
        ciphertext under this key (spaces and either case accepted).

        Raises:
            InvalidArgument: text that is not hex, or too long.
            InvalidValue: it does not decrypt under this key, or is not UTF-8.
        """
        return self._key.decrypt_password(encrypted_password_hex)

    def __repr__(self) -> str:
        return f"<AgentKey {self.bits} bits>"


def snapshot_id_for(vault_snapshot_id: str) -> int:
    """The ``snapshot_id`` an agent reports for a vault snapshot (its hex id,
    at least 13 digits): the number its first 13 hex digits make (below
    2**52, exact in every JSON reader).

    Raises:
        InvalidValue: text that is not hex, or too short.
    """
    return _native.snapshot_id_for(vault_snapshot_id)


def vault_snapshot_prefix(snapshot_id: int) -> str:
    """The vault snapshot id prefix (13 hex digits) a service
    ``snapshot_id`` stands for; resolve it as any id prefix.

    Raises:
        InvalidValue: a number outside ``0 .. 2**52 - 1``.
    """
    return _native.vault_snapshot_prefix(snapshot_id)
