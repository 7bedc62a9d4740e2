"""A worker without a project keeps its caches in the platform's cache folder."""

from __future__ import annotations

import sys

import pytest

from allgui.core.search.shared import worker_folder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are Linux's")
def test_a_workers_caches_go_to_the_users_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "caches"))
    assert worker_folder("cnmc search/2") == tmp_path / "caches" / "allgui" / "workers" \
        / "cnmc_search_2"
