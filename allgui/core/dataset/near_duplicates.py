"""Near-duplicates: two files showing the same field that are not the same
bytes (re-saved, re-compressed, resized, slightly brightened). A split must
keep them on one side as it does identical copies, or the test set holds
images the model has in effect seen.

Each image gets a gray thumbnail at 8 x 8 and a colour one at 16 x 16 (each
channel's mean removed, unit norm) and a 64-bit difference hash. Pairs whose coarse thumbnails correlate at
:data:`MIN_COARSE` (every pair, up to :data:`BRUTE_FORCE` images; beyond,
pairs whose hashes nearly agree) are near-duplicates when their fine
thumbnails correlate at :data:`MIN_CORRELATION` or more; groups are closed
transitively. Two different cells on a plain background look alike at 8 x 8
in gray, rarely in colour at 16 x 16: the second test keeps them apart.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from allgui.core.errors import Cancelled

MAX_BITS = 3
MIN_CORRELATION = 0.98  # of the 16 x 16 colour thumbnails: the same field
MIN_COARSE = 0.9  # of the 8 x 8 thumbnails: worth comparing closely
BRUTE_FORCE = 20_000  # up to this many images every pair is looked at
THUMB = 16  # the fine thumbnail, in colour
# A "group" this large is not one field saved again but images that all look
# alike (blank or tiny images): grouping them would merge whole patients, so
# such groups are left as they are.
MAX_GROUP = 12
BUCKET_LIMIT = 500  # a hash block shared by more images than this is a blank, not a match


@dataclass(frozen=True, eq=False)
class Fingerprint:
    dhash: int
    thumb: np.ndarray  # (THUMB * THUMB * 3,) float32, channel means removed, unit norm
    coarse: np.ndarray  # (64,) the same at 8 x 8


def fingerprint(rgb: np.ndarray) -> Fingerprint:
    """The fingerprint of one H x W x 3 uint8 image."""
    gray = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("L")
    small = np.asarray(gray.resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    dhash = int(np.packbits(bits).view(">u8")[0])
    colour = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("RGB")
    return Fingerprint(dhash, _unit(colour.resize((THUMB, THUMB), Image.Resampling.BOX)),
                       _unit(gray.resize((8, 8), Image.Resampling.BOX)))


def _unit(img: Image.Image) -> np.ndarray:
    x = np.asarray(img, dtype=np.float32)
    x = (x - x.mean(axis=(0, 1))).ravel()  # each channel's mean: brightness does not count
    norm = float(np.linalg.norm(x))
    return x / norm if norm > 1e-6 else x


def fingerprints_of(images: np.ndarray) -> list[Fingerprint]:
    return [fingerprint(img) for img in images]


def _candidates(prints: Sequence[Fingerprint], cancel) -> list[tuple[int, int]]:
    """Pairs worth comparing: every pair up to :data:`BRUTE_FORCE` images
    (their coarse thumbnails compared in blocks), else those sharing a block
    of the difference hash (one of four 16-bit blocks, which any pair at most
    :data:`MAX_BITS` bits apart must share)."""
    n = len(prints)
    if n <= BRUTE_FORCE:
        coarse = np.stack([p.coarse for p in prints]) if n else np.zeros((0, 64), np.float32)
        out = []
        for start in range(0, n, 1024):
            if cancel is not None and cancel.is_set():
                raise Cancelled("Stopped by the user.")
            sim = coarse[start:start + 1024] @ coarse.T
            rows, cols = np.nonzero(sim >= MIN_COARSE)
            out += [(start + int(r), int(c)) for r, c in zip(rows, cols, strict=True)
                    if start + int(r) < int(c)]
        return out
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, fp in enumerate(prints):
        for block in range(4):
            buckets[(block, (fp.dhash >> (16 * block)) & 0xFFFF)].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if 2 <= len(members) <= BUCKET_LIMIT:
            pairs.update((a, b) for x, a in enumerate(members) for b in members[x + 1:]
                         if bin(prints[a].dhash ^ prints[b].dhash).count("1") <= MAX_BITS)
    return sorted(pairs)


def near_groups(paths: Sequence[str], prints: Sequence[Fingerprint],
                cancel: threading.Event | None = None) -> dict[str, str]:
    """path -> its near-duplicate group (named by its first path), for every
    image that has at least one near-duplicate; the others are left out."""
    parent = list(range(len(paths)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in _candidates(prints, cancel):
        if float(prints[a].thumb @ prints[b].thumb) >= MIN_CORRELATION:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots: dict[int, list[int]] = defaultdict(list)
    for i in range(len(paths)):
        roots[find(i)].append(i)
    return {paths[i]: paths[root] for root, group in roots.items()
            if 1 < len(group) <= MAX_GROUP for i in group}


def pairs_across(a: Sequence[str], b: Sequence[str], near: Mapping[str, str]
                 ) -> tuple[tuple[str, str], ...]:
    """(file in a, file in b) pairs of one near-duplicate group."""
    first: dict[str, str] = {}
    for p in a:
        if p in near:
            first.setdefault(near[p], p)
    return tuple((first[near[p]], p) for p in b if p in near and near[p] in first
                 and first[near[p]] != p)
