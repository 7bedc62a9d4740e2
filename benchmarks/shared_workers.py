"""Workers sharing one study through PostgreSQL: wall time of a study run by
one worker against the same study run by several (one of them killed on the
way), and a check that no trial was lost or run twice.

    .venv/bin/python benchmarks/shared_workers.py [--trials 20] [--workers 3]
        [--storage postgresql://...] [--screenshot window.png]

Without --storage a throwaway PostgreSQL server is started on loopback
(tests/support/pg_server.py). Each worker is a real ``allgui worker`` process with
one torch thread, on synthetic demo data with a tiny backbone; the figures
depend on how many CPU cores are free. With --screenshot the window follows
the several-worker study live and is grabbed while it runs and at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker(url: str, study: str, data: Path, folder: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "allgui", "worker", "--storage", url, "--study", study,
         "--data", str(data), "--project", str(folder), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def make_project(root: Path, url: str, data: Path, study: str, args):
    from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings
    from allgui.core.search.runner import SearchSettings
    from allgui.core.search.shared import create_shared_study

    project = Project.create(root, ProjectSettings(
        dataset=DatasetSettings(path=str(data), image_size=args.size),
        model=ModelSettings(backbone=args.backbone, weights="none"), storage=url))
    settings = SearchSettings(study_name=study, trials=args.trials, epochs=args.epochs,
                              views=2, startup_trials=5, device="cpu", mode=args.mode)
    create_shared_study(project, settings, heartbeat_s=args.heartbeat)
    project.update(search=settings.to_dict())
    return project


def run_study(url, study, data, tmp, n_workers, kill_after: int | None, state: dict) -> float:
    """Start the workers; kill the first mid-trial once ``kill_after`` trials are
    complete; wait for the others."""
    import optuna
    from optuna.trial import TrialState

    from allgui.core.search.shared import WORKER
    from allgui.core.search.storage import open_storage

    started = time.perf_counter()
    procs = [worker(url, study, data, tmp / f"{study}-w{i}") for i in range(n_workers)]
    state["procs"] = procs
    if kill_after is not None:
        victim = procs[0]
        name = f"{os.uname().nodename}:{victim.pid}"
        watch = optuna.load_study(study_name=study, storage=open_storage(url))
        while victim.poll() is None:
            trials = watch.get_trials(deepcopy=False)
            mine = [t for t in trials if t.user_attrs.get(WORKER) == name]
            done = sum(t.state == TrialState.COMPLETE for t in trials)
            # Mid-trial, once the study is a quarter done ("on the way").
            if done >= kill_after and any(t.state == TrialState.RUNNING for t in mine):
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                left = [t.number for t in watch.get_trials(deepcopy=False)  # as it died
                        if t.state == TrialState.RUNNING and t.user_attrs.get(WORKER) == name]
                state["killed"] = (name, left[0]) if left else ()
                break
            time.sleep(0.2)
    for p in procs:
        out, _ = p.communicate()
        if p.returncode not in (0, -signal.SIGKILL):
            print(out, file=sys.stderr)
            raise SystemExit(f"a worker failed (exit {p.returncode})")
    return time.perf_counter() - started


def check(url: str, study: str, budget: int, killed) -> dict:
    import optuna
    from optuna.trial import TrialState

    from allgui.core.search.shared import WORKER, counted

    trials = optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    points = [tuple(sorted(t.params.items())) for t in complete]
    facts = {
        "trials in the study": len(trials),
        "complete": len(complete),
        "failed": len(failed),
        "counted towards the budget": counted(trials),
        "left running or waiting": sum(t.state in (TrialState.RUNNING, TrialState.WAITING)
                                       for t in trials),
        "complete trials with the same parameters": len(points) - len(set(points)),
        "trials per worker": {w: sum(t.user_attrs.get(WORKER) == w for t in complete)
                              for w in sorted({t.user_attrs.get(WORKER) for t in complete})},
    }
    ok = (len(complete) == budget == counted(trials) and facts["left running or waiting"] == 0
          and facts["complete trials with the same parameters"] == 0)
    if killed is not None:
        if not killed:
            facts["killed"] = "nobody: the worker to kill ended before it could be"
            return {**facts, "no trial lost or run twice": False}
        name, number = killed
        again = [t for t in trials if t.system_attrs.get("failed_trial") == number]
        facts["killed"] = f"{name} during trial {number}"
        facts["failed trials"] = [f"#{t.number} by {t.user_attrs.get(WORKER)}" for t in failed]
        facts["its trial redone as"] = [f"#{t.number} by {t.user_attrs.get(WORKER)} "
                                        f"({t.state.name.lower()})" for t in again]
        # The parameters it had drawn before it died (a kill right after the ask leaves few).
        same = bool(again) and trials[number].params.items() <= again[0].params.items()
        facts["redone with the same parameters"] = same
        ok = ok and [t.number for t in failed] == [number] and len(again) == 1 \
            and again[0].state == TrialState.COMPLETE and same
    facts["no trial lost or run twice"] = ok
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mode", default="online", choices=("online", "cached"),
                        help="online (default): the backbone runs every epoch, so trials "
                             "cost more than a worker's start")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--heartbeat", type=int, default=2)
    parser.add_argument("--backbone", default="resnet18",
                        help="timm backbone, random weights (nothing downloads)")
    parser.add_argument("--storage", help="an empty PostgreSQL database (default: a throwaway "
                                          "server)")
    parser.add_argument("--screenshot", help="PNG path: grab the window following the study")
    parser.add_argument("--skip-single", action="store_true", help="only the several workers")
    args = parser.parse_args()

    from allgui.core.dataset.demo import make_demo_dataset
    from allgui.core.search.storage import mask_url, normalize_storage_url

    server = None
    if args.storage:
        url = normalize_storage_url(args.storage)
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from support import pg_server

        server = pg_server.start_server()
        url = normalize_storage_url(pg_server.create_database(server, "allgui_bench"))
    try:
        with tempfile.TemporaryDirectory(prefix="allgui-workers-") as t:
            tmp = Path(t)
            data = make_demo_dataset(tmp / "data", patients_all=4, patients_hem=4,
                                     images_per_patient=8, size=args.size,
                                     unlabelled_images=0, folds=1)
            print(f"storage {mask_url(url)}; {args.trials} trials x {args.epochs} epochs "
                  f"({args.mode} mode, {args.backbone}), "
                  f"{args.size} px demo data, one torch thread per worker, "
                  f"{os.cpu_count()} CPU cores on this machine")
            wall_one = None
            if not args.skip_single:
                make_project(tmp / "one", url, data, "one", args)
                wall_one = run_study(url, "one", data, tmp, 1, None, {})
                print(f"1 worker:  {wall_one:.1f} s wall")
                print(f"  {check(url, 'one', args.trials, None)}")
            project = make_project(tmp / "many", url, data, "many", args)
            state: dict = {}
            if args.screenshot:
                wall_many = follow_in_window(project, args, lambda: run_study(
                    url, "many", data, tmp, args.workers, args.trials // 4, state))
            else:
                wall_many = run_study(url, "many", data, tmp, args.workers, args.trials // 4,
                                      state)
            facts = check(url, "many", args.trials, state.get("killed", ()))
            print(f"{args.workers} workers (one killed on the way): {wall_many:.1f} s wall"
                  + (f"; {wall_one / wall_many:.2f}x the speed of one" if wall_one else ""))
            for k, v in facts.items():
                print(f"  {k}: {v}")
            return 0 if facts["no trial lost or run twice"] else 1
    finally:
        if server is not None:
            server.stop()


def follow_in_window(project, args, run) -> float:
    """Run the study on a thread while the window follows it; grab the window
    mid-way and at the end."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from allgui.gui.main_window import MainWindow
    from allgui.gui.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    window = MainWindow(AppSettings(Path(tempfile.mkdtemp()) / "settings.ini"),
                        probe_device=False)
    window.resize(1500, 950)
    window.show()
    window.open_project(project.root)
    window.tabs.setCurrentWidget(window.optimize_tab)
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("wall", run()))
    thread.start()
    loop = QEventLoop()
    shots = Path(args.screenshot)
    tab = window.optimize_tab

    def tick() -> None:
        done = sum(tab.trials_table.item(r, 1).text() == "complete"
                   for r in range(tab.trials_table.rowCount()))
        if "mid" not in box and done >= args.trials // 2:
            box["mid"] = True
            window.grab().save(str(shots.with_name(shots.stem + "-live" + shots.suffix)))
        if not thread.is_alive() and done >= args.trials:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(200)
    loop.exec()
    tab.follower.poll()
    end = time.monotonic() + 4
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.05)
    window.grab().save(str(shots))
    print(f"window: {shots} (and {shots.stem}-live{shots.suffix} mid-way)")
    tab.follower.follow(None, "")
    window.close()
    return box["wall"]


if __name__ == "__main__":
    raise SystemExit(main())
