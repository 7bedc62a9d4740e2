"""Content hashes of image files: what makes two files 'the same image'.

A hash names a file's bytes, not its path, so a renamed copy is found as an
identical image and an edited file gets a new cache entry, whatever its size
and modification time say. :func:`read_hashed` hashes the bytes as they are
read for decoding, so knowing the content costs no second read.
"""

from __future__ import annotations

import hashlib
import os

_CHUNK = 4 << 20
# Files up to this size are read whole and decoded from memory; bigger ones
# (a huge TIFF) are hashed as a stream and decoded from disk, not held twice.
IN_MEMORY_LIMIT = 256 << 20


# SHA-256 runs in hardware on current CPUs (about twice BLAKE2b's speed here);
# 160 bits of it are plenty to tell files apart.
_HEX_CHARS = 40


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's content (40 hex characters). Raises OSError."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()[:_HEX_CHARS]


def bytes_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_HEX_CHARS]


def read_hashed(path: str | os.PathLike) -> tuple[bytes | None, str]:
    """``(content, hash)`` of one file read once; content is None for a file
    over :data:`IN_MEMORY_LIMIT` (decode it from its path). Raises OSError."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size <= IN_MEMORY_LIMIT:
            data = fh.read()
            return data, bytes_hash(data)
        h = hashlib.sha256()
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return None, h.hexdigest()[:_HEX_CHARS]
