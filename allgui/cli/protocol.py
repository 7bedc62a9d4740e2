"""``allgui protocol``: show a project's protocol (the study's, or allgui's
recommended one), or switch it: every setting the protocol names is set to
its value at once, the others kept."""

from __future__ import annotations


def register(subparsers) -> None:
    from allgui.core.protocols import NAMES

    parser = subparsers.add_parser(
        "protocol",
        help="show or switch a project's protocol: 'paper' (the study's method as written) "
             "or 'recommended' (allgui's choices, each with its reason)",
    )
    parser.add_argument("project", help="the project folder")
    parser.add_argument("name", nargs="?", choices=NAMES,
                        help="switch the project to this protocol (left out: show it)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from allgui.core.files.text import terminal_text
    from allgui.core.project import Project
    from allgui.core.protocols import protocol

    project = Project.open(args.project)
    if args.name:
        before = project.settings.protocol
        project.update(**_changes(project.settings.with_protocol(args.name)))
        print(f"Protocol: {before} -> {args.name}. Every setting the protocol names now has "
              "its value; a study or batch run with other settings is not resumed.")
    name = project.settings.protocol
    print(f"Project {terminal_text(str(project.root))} follows the protocol '{name}'.")
    for line in protocol(name).describe():
        print(line)
    return 0


def _changes(settings) -> dict:
    return {"protocol": settings.protocol, "split": settings.split,
            "search": settings.search, "validation": settings.validation}
