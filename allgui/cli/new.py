"""``allgui new``: create a project for a dataset, after checking the dataset
can be read and split."""

from __future__ import annotations

from pathlib import Path

from allgui.core.protocols import DEFAULT, NAMES


def register(subparsers) -> None:
    from allgui.cli.data import add_split_options

    parser = subparsers.add_parser(
        "new", help="create a project folder for a dataset (scans and splits it first)"
    )
    parser.add_argument("project", help="folder to create for the project")
    parser.add_argument("--data", required=True, help="dataset folder (or CSV manifest)")
    parser.add_argument(
        "--image-size", type=int, default=224,
        help="images are resized once to this square size (default %(default)s, as the paper)",
    )
    add_split_options(parser, method_flag="--split")
    parser.add_argument(
        "--protocol", choices=NAMES, default=DEFAULT,
        help="paper: the published study's method exactly as written (image split, every "
        "image augmented, Optuna's default TPE, no baselines); recommended: allgui's "
        "choices, each with its reason (default %(default)s); 'allgui protocol' shows both",
    )
    parser.set_defaults(func=run, method=None)  # the split: the protocol's unless --split


def _created_by(target: Path) -> Path | None:
    """The outermost folder that creating ``target`` would make; None if it exists."""
    top = None
    for folder in (target, *target.parents):
        if folder.exists():
            break
        top = folder
    return top


def run(args) -> int:
    import dataclasses
    import shutil

    from allgui.cli.data import split_settings
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.folders import storable_path
    from allgui.core.dataset.split_text import format_split
    from allgui.core.dataset.splits import audit, make_split
    from allgui.core.dataset.summary import format_summary, summarize
    from allgui.core.errors import DatasetError
    from allgui.core.project import DatasetSettings, Project, ProjectSettings
    from allgui.core.protocols import protocol

    if args.method is None:
        args.method = protocol(args.protocol).values()["split"]["method"]
    if args.image_size < 8:
        raise DatasetError("The image size must be at least 8 pixels (the paper used 224).")
    sink = ProgressPrinter()
    data_path = Path(args.data).expanduser().resolve()
    stored = storable_path(data_path)  # checked before anything is made
    index = discover(data_path, sink)
    summary = summarize(index, sink)
    split = make_split(index, split_settings(args), summary.hashes or None, summary.near)
    leak_check = audit(index, split, summary.hashes, sink=sink, near=summary.near)
    settings = ProjectSettings(
        dataset=DatasetSettings(path=stored, image_size=args.image_size),
    ).with_protocol(args.protocol)
    settings = dataclasses.replace(settings, split=split_settings(args))  # --split wins
    made = _created_by(Path(args.project).absolute())
    try:
        project = Project.create(args.project, settings)
    except BaseException:
        if made is not None:  # a project that could not be written leaves no folder behind
            shutil.rmtree(made, ignore_errors=True)
        raise
    print(format_summary(summary))
    print()
    print(format_split(index, split, leak_check))
    print(f"\nProject created: {project.root}")
    print(f"Protocol: {args.protocol} ({protocol(args.protocol).title}; 'allgui protocol "
          f"{project.root}' shows its settings)")
    return 0
