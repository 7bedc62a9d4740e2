"""``allgui data``: look at a dataset and at how it would be split."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="scan a dataset folder, or show how it would be split"
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    scan = sub.add_parser("scan", help="count images per class, patient and fold; list bad files")
    scan.add_argument("path", help="dataset folder (or CSV manifest with columns path,label)")
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")
    scan.add_argument(
        "--quick", action="store_true",
        help="only read file headers (no sizes, formats or identical-image check)",
    )
    scan.set_defaults(func=run_scan)

    split = sub.add_parser("split", help="split the dataset and audit the split for leakage")
    split.add_argument("path", help="dataset folder (or CSV manifest)")
    add_split_options(split)
    split.add_argument("--json", action="store_true", help="print the split and audit as JSON")
    split.set_defaults(func=run_split)


def add_split_options(parser: argparse.ArgumentParser, method_flag: str = "--method") -> None:
    from allgui.core.project import SplitSettings

    d = SplitSettings()
    parser.add_argument(
        method_flag, dest="method", default=d.method, choices=("patient", "cnmc-folds", "image"),
        help="patient: no patient on both sides (default); cnmc-folds: C-NMC's own folds; "
        "image: the paper's image-level split (leaky)",
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="random seed (default %(default)s)")
    parser.add_argument(
        "--val-fraction", type=float, default=d.val_fraction,
        help="share of training images for validation (default %(default)s)",
    )
    parser.add_argument(
        "--test-fraction", type=float, default=d.test_fraction,
        help="share held out for testing when the dataset has no test set of its own "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--no-official-test", dest="use_official_test", action="store_false",
        help="do not use the dataset's own test set (C-NMC's preliminary test) as the test part",
    )


def split_settings(args):
    from allgui.core.project import SplitSettings

    return SplitSettings(
        method=args.method,
        seed=args.seed,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        use_official_test=args.use_official_test,
    )


def run_scan(args) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.summary import format_summary, summarize

    sink = ProgressPrinter(quiet=args.json)
    index = discover(args.path, sink)
    summary = summarize(index, sink, inspect=not args.quick)
    split_text, split_data = _default_split(index, summary, sink)
    if args.json:
        data = summary.to_dict()
        data["default_split"] = split_data
        print(json.dumps(data, indent=2))
    else:
        print(format_summary(summary))
        print("\nDefault split (change it with 'allgui data split'):")
        print(split_text)
    return 0


def _default_split(index, summary, sink) -> tuple[str, dict]:
    """The split a new project would get, and its audit; or why there is none."""
    from allgui.core.dataset.split_text import format_split, split_counts
    from allgui.core.dataset.splits import audit, make_split
    from allgui.core.errors import DatasetError
    from allgui.core.project import SplitSettings

    try:
        split = make_split(index, SplitSettings(), summary.hashes or None, summary.near)
    except DatasetError as exc:
        return f"  Cannot split this dataset: {exc.message}", {"error": exc.message}
    leak_check = audit(index, split, summary.hashes, check_content=summary.inspected, sink=sink,
                       near=summary.near)
    data = split.to_dict() | {"counts": split_counts(index, split), "audit": leak_check.to_dict()}
    return format_split(index, split, leak_check), data


def run_split(args) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.split_text import format_split, split_counts
    from allgui.core.dataset.splits import audit, content_hashes, make_split

    sink = ProgressPrinter(quiet=args.json)
    index = discover(args.path, sink)
    hashes = content_hashes(index, sink=sink)
    split = make_split(index, split_settings(args), hashes)
    leak_check = audit(index, split, hashes, sink=sink)
    if args.json:
        data = split.to_dict()
        data["counts"] = split_counts(index, split)
        data["audit"] = leak_check.to_dict()
        print(json.dumps(data, indent=2))
    else:
        if index.synthetic:
            print("SYNTHETIC DEMO DATA: generated cells, not real patients.")
        print(format_split(index, split, leak_check))
    return 0
