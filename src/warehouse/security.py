"""Commercial cryptography (国密) primitives used across the warehouse.

SM3 comes from ``cryptography`` (OpenSSL's implementation, hundreds of MB/s); pure-Python SM3 is
three orders of magnitude slower and must not be used on artifacts.
"""

from __future__ import annotations


def sm3_hex(data: bytes) -> str:
    """SM3 hex digest of ``data``."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()
