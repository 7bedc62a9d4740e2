"""Content hashes of image files: what makes two files 'the same image'.

A hash names a file's bytes, not its path, so a renamed copy is found as an
identical image and an edited file gets a new cache entry.
"""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


def file_hash(path: str | os.PathLike) -> str:
    """BLAKE2b (20 bytes, hex) of the file's content. Raises OSError."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def bytes_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()
