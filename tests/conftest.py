"""Shared test set-up: Qt offscreen, one torch thread, and every fixture more
than one test file uses. What they are made of lives in ``tests/support/``.

Markers (registered in pyproject.toml, ``--strict-markers``): ``gui`` for
anything needing Qt, ``postgres`` for the shared-study tests, ``slow`` for the
frozen builds, ``xvfb`` for a real X server. The engine's tests alone, without
Qt or a database server: ``pytest -m "not gui and not postgres and not slow"``.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from allgui.core.project import Project

    from support.onnx_models import TinyModels
    from support.pg_server import PgServer

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Nothing downloads at test time: timm and Hugging Face stay offline.
os.environ["HF_HUB_OFFLINE"] = "1"
# What allgui remembers per user (trusted study locations) stays out of the real home.
os.environ["ALLGUI_HOME"] = tempfile.mkdtemp(prefix="allgui-home-")

REPO = Path(__file__).resolve().parents[1]
# Beside the checkout by default; ALLGUI_SHARED_FIXTURES names them elsewhere
# (a second worktree of the same clone).
SHARED_FIXTURES = Path(os.environ.get("ALLGUI_SHARED_FIXTURES")
                       or REPO.parent / "shared" / "fixtures")

# A test asking for one of these fixtures needs what its marker says, so it must
# carry that marker: the inner loop then never starts Qt or a database server.
NEEDS_MARKER = {
    "gui": {"qtbot", "qapp", "window", "captured", "app_settings"},
    "postgres": {"pg", "database"},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        f"{item.nodeid} (needs @pytest.mark.{marker})"
        for item in items
        for marker, fixtures in NEEDS_MARKER.items()
        if fixtures & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker(marker)
    ]
    if unmarked:
        raise pytest.UsageError("unmarked tests: " + ", ".join(unmarked))


# -- data beside the checkout ----------------------------------------------------


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


@pytest.fixture(scope="session")
def cnmc_tree(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Path:
    """The full-size C-NMC 2019 tree with tiny pixels, written once per session
    (the folder above C-NMC_Leukemia)."""
    from support.cnmc_tree import write_cnmc_tree

    root = tmp_path_factory.mktemp("cnmc_full")
    write_cnmc_tree(shared_fixtures / "cnmc_file_list.txt", root)
    return root


@pytest.fixture(scope="session")
def cnmc_test_patients() -> frozenset[str]:
    """The patients :func:`cnmc_tree` invents for its preliminary test set."""
    from support.cnmc_tree import TEST_ALL_PATIENTS, TEST_HEM_PATIENTS

    return frozenset(TEST_ALL_PATIENTS) | frozenset(TEST_HEM_PATIENTS)


# -- made on the spot -------------------------------------------------------------


@pytest.fixture(scope="session")
def write_odd_files() -> Callable[[Path], dict[str, str]]:
    """``write_odd_files(folder)`` writes one odd or broken image of each kind
    and returns name -> 'ok' or 'bad'."""
    from support.badfiles import write_odd_files

    return write_odd_files


@pytest.fixture(scope="session")
def make_tiny_project() -> Callable[[Path], Project]:
    """``make_tiny_project(root)``: a demo dataset under ``root/data`` and a
    project on it under ``root/project`` (engine tests: a real small backbone)."""
    from support.tiny_project import tiny_demo_project

    return tiny_demo_project


@pytest.fixture(scope="session")
def make_demo_project() -> Callable[..., Project]:
    """``make_demo_project(root, image_size=32)``: the window tests' project,
    the demo data inside it and the tiny test backbone."""
    from support.tiny_project import make_demo_project

    return make_demo_project


@pytest.fixture(scope="session")
def tiny_models() -> type[TinyModels]:
    """Tiny real models: ``.model(seed)``, ``.export(path, **metadata)``, and
    the ``.classes`` and ``.size`` they have."""
    from support.onnx_models import TinyModels

    return TinyModels


# -- a PostgreSQL server ----------------------------------------------------------

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A throwaway server on loopback for the session; skips, saying why, without one."""
    from support import pg_server

    try:
        server = pg_server.start_server()
    except pg_server.ServerUnavailable as exc:
        pytest.skip(f"no PostgreSQL server for the shared-study tests: {exc}")
    yield server
    server.stop()


@pytest.fixture
def database(pg: PgServer) -> str:
    """A fresh empty database on :func:`pg`, as a storage URL."""
    from allgui.core.search.storage import normalize_storage_url

    from support import pg_server

    return normalize_storage_url(pg_server.create_database(pg, f"allgui_{next(_databases)}"))


# -- the window -------------------------------------------------------------------


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The window's error dialogs, captured instead of shown (``.errors``);
    its yes/no questions answered with ``.answer``."""
    from allgui.gui import dialogs, errors

    from support.gui import Dialogs

    d = Dialogs()
    monkeypatch.setattr(errors, "present", d.present)
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a: d.answer)
    return d


@pytest.fixture
def app_settings(tmp_path: Path) -> Any:
    """The window's settings in a temporary file, projects in a temporary folder."""
    from allgui.gui.settings import AppSettings

    s = AppSettings(tmp_path / "settings.ini")
    s.set_projects_dir(tmp_path / "projects")
    return s


@pytest.fixture
def window(qtbot: Any, app_settings: Any, captured: Any) -> Iterator[Any]:
    """A shown main window; on teardown every job it started must have ended."""
    from allgui.gui.main_window import MainWindow

    from support.tiny_project import DEMO_SMALL

    w = MainWindow(app_settings, probe_device=False)
    w.dataset_tab.demo_options = dict(DEMO_SMALL)
    qtbot.addWidget(w)
    started = []
    w.job_started.connect(started.append)
    w.show()
    yield w
    for job in list(w.jobs):
        job.stop()
    for job in started:
        assert job.wait(30_000), f"job {job.name} did not end"
        assert not job._thread.isRunning()
    qtbot.waitUntil(lambda: not w.jobs, timeout=10_000)
