"""The agent's side of the service: its RSA key pair (the other half of the
vault-password flow) and the mapping between the service's integer
``snapshot_id`` and a vault snapshot's hex id: the native class and
functions of the core, as they are.

An agent generates a key once (:meth:`AgentKey.generate`), stores
:meth:`AgentKey.to_der` as a secret, registers or reports
:meth:`AgentKey.public_key` (v1 ``PublicKey``) or
:meth:`AgentKey.rsa_public_key` (v2 ``rsa_public_key``), and decrypts the
``EncryptedPassword`` / ``encrypted_password_hex`` users send it with
:meth:`AgentKey.decrypt_password` (what
:func:`cloudbackup.encrypt_password_for_agent` makes).
"""

from __future__ import annotations

from . import _native

__all__ = ["AgentKey", "snapshot_id_for", "vault_snapshot_prefix"]

#: An agent's RSA key pair: the native class itself (no Python wrapper), the
#: private key wiped in the core when the key is dropped (copies returned by
#: ``to_der`` are the caller's). ``AgentKey.generate(bits=2048)`` (a multiple
#: of 8 from 1024 to 8192, exponent 0x10001; InvalidArgument otherwise),
#: ``AgentKey.from_der(der)`` (PKCS#8 as ``to_der`` writes it, or PKCS#1;
#: InvalidValue for bytes that are no sound RSA key), ``bits``,
#: ``public_key()`` (v1: ``{"ModulusHex", "ExponentHex"}``),
#: ``rsa_public_key()`` (v2: ``{"modulus", "exponent"}``) and
#: ``decrypt_password(hex)`` (the passphrase of ``EncryptedPassword`` /
#: ``encrypted_password_hex``; InvalidArgument for text that is not hex,
#: InvalidValue when it does not decrypt under this key or is not UTF-8).
AgentKey = _native.AgentKey


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
