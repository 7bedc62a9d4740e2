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
    parser.add_argument("--studies", type=int, default=3, help="studies per sampler (default 3)")
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
    from allgui.core.report.samplers import rows, save_comparison
    from allgui.core.search.settings import SearchSettings
    from allgui.core.validation.samplers import compare_samplers

    project = Project.open(args.project)
    settings = SearchSettings.from_project(project)
    trials = settings.trials if args.trials is None else args.trials
    if args.studies < 1 or trials < 2:
        raise AllguiError("Give at least one study of at least two trials.")
    result = compare_samplers(project, settings,
                              tuple(s.strip() for s in args.samplers.split(",") if s.strip()),
                              args.studies, trials, device=args.device,
                              sink=ProgressPrinter())
    print(f"{'sampler':<20}{'studies':>8}  {'best validation':<20}{'test bal.acc':>14}"
          f"{'test F1w':>10}")
    for r in rows(result):
        print(f"{r[0]:<20}{r[1]:>8}  {r[2]:<20}{r[3]:>14}{r[4]:>10}")
    print(f"{count(trials, 'trial')} per study; the first {result.startup} drawn at random, "
          "alike for every sampler, then each sampler models the results.")
    for name, why in result.unavailable.items():
        print(f"  {name}: {why}")
    print(save_comparison(project, result))
    return 0
