"""How many augmented views a cached-mode job computes, and whether validation
runs share them: the defaults in one place (torch-free).

Epoch ``e`` trains on view ``e mod K``, so a job of ``E`` epochs reads only
views ``0 .. min(K, E) - 1``; computing more costs backbone passes that no
epoch reads. :func:`views_read` is the count a job computes; it changes no
number (the first views are the same draws whatever K is).

Validation runs share the search's views by default (``SHARE_VIEWS``): each
run draws its own seed for the head, but the backbone's features are the
search's, so a batch makes no new backbone pass. A protocol that wants fresh
draws per run sets ``ValidationSettings.independent_views`` (the command
line's ``--independent-views``; the paper protocol's ``views = "fresh"``
sets it too); :func:`fresh_views_cost` says what that costs.
"""

from __future__ import annotations

DEFAULT_VIEWS = 10  # K when neither the job nor the project names one
SHARE_VIEWS = True  # validation runs reuse the search's views unless asked otherwise


def views_read(views: int, epochs: int) -> int:
    """The views an ``epochs``-epoch job reads of ``views`` (at least 1)."""
    return max(1, min(int(views), int(epochs)))


def unused_views_note(views: int, epochs: int) -> str:
    """A sentence when ``views`` exceeds what ``epochs`` epochs read; '' otherwise."""
    used = views_read(views, epochs)
    if used >= views:
        return ""
    return (f"{views} views were asked for but {epochs} epochs read only {used}: "
            f"{used} are computed (the other {views - used} would never be used).")


def fresh_views_cost(runs: int, views: int, train_images: int) -> str:
    """What fresh views per run cost, in backbone passes, as a sentence."""
    passes = runs * views * train_images
    return (f"Views of their own: each of the {runs} runs computes its own {views} views of the "
            f"{train_images:,} training images ({passes:,} backbone passes beyond the "
            "search's). Sharing the search's views, the runs would reuse its features.")
