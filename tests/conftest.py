"""Shared test set-up: Qt offscreen, one torch thread, the shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Nothing downloads at test time: timm and Hugging Face stay offline.
os.environ["HF_HUB_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures`` beside the checkout; tests that need it skip without it."""
    if not (SHARED_FIXTURES / "cnmc_samples").is_dir():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def cnmc_samples(shared_fixtures: Path) -> Path:
    """The six real C-NMC BMPs (all/ and hem/)."""
    return shared_fixtures / "cnmc_samples"
