"""国密 timings: SM3 throughput on 100 MB (OpenSSL via ``cryptography`` vs gmssl's pure Python, on a
sample) and SM2 key generation, signing and verification with gmssl.

Run ``.venv/bin/python bench/governance_crypto.py``; prints one ``name=value`` line per figure and the
ratio of the two SM3 implementations.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from warehouse.security import generate_sm2_key_pair, sm2_sign, sm2_verify, sm3_file_hex, sm3_hex

SM3_BYTES = 100 * 1024 * 1024
PURE_PYTHON_SAMPLE_BYTES = 1024 * 1024
SM2_ROUNDS = 50


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    return statistics.median(_seconds(action) for _ in range(rounds)) * 1000


def main() -> None:
    """Measure and report."""
    from gmssl import func, sm3

    data = os.urandom(SM3_BYTES)
    openssl_mb_s = SM3_BYTES / 2**20 / _seconds(lambda: sm3_hex(data))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "artifact.bin"
        path.write_bytes(data)
        file_mb_s = SM3_BYTES / 2**20 / _seconds(lambda: sm3_file_hex(path))
    sample = data[:PURE_PYTHON_SAMPLE_BYTES]
    pure_mb_s = PURE_PYTHON_SAMPLE_BYTES / 2**20 / _seconds(lambda: sm3.sm3_hash(func.bytes_to_list(sample)))
    key = generate_sm2_key_pair()
    signature = sm2_sign(key, b"payload")
    lines = [
        f"sm3_openssl_mb_s={openssl_mb_s:.0f} (100 MB in memory)",
        f"sm3_openssl_file_mb_s={file_mb_s:.0f} (100 MB file, 1 MiB chunks)",
        f"sm3_gmssl_pure_python_mb_s={pure_mb_s:.2f} (1 MB sample)",
        f"ratio_openssl_over_gmssl={openssl_mb_s / pure_mb_s:.0f}",
        f"sm2_keygen_ms={_median_ms(generate_sm2_key_pair, SM2_ROUNDS):.1f}",
        f"sm2_sign_ms={_median_ms(lambda: sm2_sign(key, b'payload'), SM2_ROUNDS):.1f}",
        f"sm2_verify_ms={_median_ms(lambda: sm2_verify(key.public_key, b'payload', signature), SM2_ROUNDS):.1f}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
