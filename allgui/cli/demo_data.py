"""``allgui demo-data``: write synthetic demo data in the C-NMC layout."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="write synthetic demo images (C-NMC layout) to try allgui without real data",
    )
    parser.add_argument("path", help="an empty or new folder for the demo data")
    parser.add_argument("--patients-all", type=int, default=8, help="ALL training patients")
    parser.add_argument("--patients-hem", type=int, default=4, help="healthy training donors")
    parser.add_argument("--images-per-patient", type=int, default=16)
    parser.add_argument("--size", type=int, default=450, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def run(args) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.dataset.demo import make_demo_dataset
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.summary import format_summary, summarize

    sink = ProgressPrinter()
    root = make_demo_dataset(
        args.path,
        patients_all=args.patients_all,
        patients_hem=args.patients_hem,
        images_per_patient=args.images_per_patient,
        size=args.size,
        seed=args.seed,
        sink=sink,
    )
    print(f"Synthetic demo data written to {root} (not real cells; for trying allgui only).")
    print(format_summary(summarize(discover(root), inspect=False)))
    return 0
