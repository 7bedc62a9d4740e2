"""``allgui worker``: join a study shared through a database and run its
trials until the study's budget is reached, together with the other workers.

The study is made on the first machine (``allgui optimize PROJECT --storage
postgresql://...``, or the window); each worker then needs only the storage,
the study name and its own copy of the images. Ctrl+C (or SIGTERM) once
stops at the next batch: the running trial is queued again for another
worker. A worker killed outright has its trial failed by heartbeat and run
again by another.
"""

from __future__ import annotations

import sys

from allgui.core.files.text import count


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="join a study shared through a database (PostgreSQL) and run its trials",
    )
    parser.add_argument("--storage", help="the study's database URL, e.g. "
                                          "postgresql://user@server:5432/allgui (a password is "
                                          "better kept in ~/.pgpass or PGPASSWORD)")
    parser.add_argument("--study", help="the study's name (as in the project's search settings)")
    parser.add_argument("--data", help="the same dataset's folder on this machine")
    parser.add_argument("--project", help="a folder for this worker's caches, or a project whose "
                                          "dataset, storage and study to use")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args) -> int:
    import threading
    from pathlib import Path

    from allgui import RESEARCH_NOTICE
    from allgui.cli._interrupt import StopOnInterrupt
    from allgui.cli.optimize import SearchPrinter
    from allgui.core.errors import ProjectError
    from allgui.core.project import Project
    from allgui.core.search.runner import SearchSettings
    from allgui.core.search.shared import join_study, worker_name
    from allgui.core.search.storage import mask_url

    storage, study = args.storage, args.study
    if storage:  # given on this machine: a project's file may name it from now on
        from allgui.core.files.trusted import trust

        trust(storage)
    if args.project and (Path(args.project) / "project.toml").is_file():
        project = Project.open(args.project)
        # the project file's storage only when this machine's user gave it (storage_url checks)
        storage = storage or (project.storage_url if project.settings.storage else "")
        study = study or SearchSettings.from_project(project).study_name
    if not storage or not study:
        raise ProjectError("Say which study to join: --storage URL --study NAME "
                           "(or --project with a project whose storage is a database).")
    print(RESEARCH_NOTICE, file=sys.stderr)
    cancel = threading.Event()
    printer = SearchPrinter(epochs=0, quiet=args.quiet)

    # First Ctrl+C (or SIGTERM): stop cleanly, the running trial runs again elsewhere.
    with StopOnInterrupt(cancel, "Stopping at the next batch; the running trial will run "
                         "again on another worker (press Ctrl+C again to quit at once).",
                         printer.say):
        result = join_study(storage, study, args.data, args.project, printer, cancel)
    me = worker_name()
    mine = [t for t in result.trials if t.worker == me]
    print(f"Worker {me} ran {count(len(mine), 'trial')} of study '{result.study_name}' in "
          f"{mask_url(result.storage_url)}: "
          + (", ".join(f"#{t.number} {t.state}" + (f" {t.value:.4f}" if t.value is not None
                                                      else "") for t in mine) or "none"))
    print(f"Trials in the study: {result.counts()}"
          + (f"; best trial #{result.best.number} = {result.best.value:.4f}"
             if result.best else "") + ".")
    if result.stopped:
        print("Stopped: start the worker again to go on.")
    return 0
