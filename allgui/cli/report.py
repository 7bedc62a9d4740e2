"""``allgui report``: the project's report as one HTML file and a PDF."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the project's report (dataset, search, validation runs) as HTML and PDF",
        description="Write a report of the project's dataset and split audit, search, and "
        "latest validation batch (statistics, pictures and a reproducibility record) into "
        "PROJECT/reports/. Without --html or --pdf both are written.",
    )
    parser.add_argument("project", help="the project folder")
    parser.add_argument("--html", action="store_true", help="write the HTML file")
    parser.add_argument("--pdf", action="store_true", help="write the PDF file")
    parser.add_argument("--batch", default=None,
                        help="the validation batch to report (its folder name under runs/; "
                        "default: the latest with a finished run)")
    parser.add_argument("--out", default=None, help="folder for the files (default: "
                        "PROJECT/reports)")
    parser.add_argument("--force", action="store_true",
                        help="replace a file of the same name that allgui did not write")
    parser.set_defaults(func=run)


def run(args) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.project import Project
    from allgui.core.report.build import write_report
    from allgui.core.validation.batch import load_batch

    project = Project.open(args.project)
    both = not (args.html or args.pdf)
    batch = load_batch(project.runs_dir / args.batch) if args.batch else None
    files = write_report(project, html=args.html or both, pdf=args.pdf or both, batch=batch,
                         out_dir=args.out, sink=ProgressPrinter(), force=args.force)
    for path in (files.html, files.pdf):
        if path is not None:
            print(path)
    return 0
