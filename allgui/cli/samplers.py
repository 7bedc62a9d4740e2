"""``allgui compare-samplers``: TPE against random search, the GP sampler and
CMA-ES over repeated studies on the project's cached features; the result
goes into PROJECT/reports/samplers.json and the project's report."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare-samplers",
        help="compare TPE with random search, GP and CMA-ES over repeated studies",
        description="Run N in-memory studies per sampler on the project's cached frozen-"
        "backbone features (the search's own settings and space; the project's study is not "
        "touched), then print each sampler's best-so-far and test figures and save them for "
        "the report.",
    )
    parser.add_argument("project", help="the project folder")
    parser.add_argument("--studies", type=int, default=None,
                        help="studies per sampler (default 5: fewer cannot tell samplers apart)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per study (default: the project's search trials)")
    parser.add_argument("--samplers", default="tpe,random,gp,cmaes")
    parser.add_argument("--device", default="auto")
    parser.set_defaults(func=run)


def run(args) -> int:
    from allgui.cli.progress_printer import ProgressPrinter
    from allgui.core.errors import AllguiError
    from allgui.core.files.text import count
    from allgui.core.project import Project
    from allgui.core.report.document import table, table_text
    from allgui.core.report.samplers import HEADER, rows, save_comparison, start_note
    from allgui.core.search.settings import SearchSettings
    from allgui.core.validation.samplers import DEFAULT_STUDIES, compare_samplers

    project = Project.open(args.project)
    settings = SearchSettings.from_project(project)
    trials = settings.trials if args.trials is None else args.trials
    studies = DEFAULT_STUDIES if args.studies is None else args.studies
    if studies < 1 or trials < 2:
        raise AllguiError("Give at least one study of at least two trials.")
    result = compare_samplers(project, settings,
                              tuple(s.strip() for s in args.samplers.split(",") if s.strip()),
                              studies, trials, device=args.device,
                              sink=ProgressPrinter())
    print(table_text(table("Samplers", HEADER, rows(result))))
    print(f"{count(trials, 'trial')} per study; the first {result.startup} drawn at random, "
          "alike for every sampler, then each sampler models the results. Test figures: mean "
          "± SD over the studies (range in brackets).")
    note = start_note(result)
    if note:
        print(f"WARNING: {note}")
    for name, why in result.unavailable.items():
        print(f"  {name}: {why}")
    print(save_comparison(project, result))
    return 0
