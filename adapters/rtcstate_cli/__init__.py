"""``rtcstate``: the command-line entry point.

Sub-commands: ``codes`` (the apiRTC vocabulary catalogue), ``diagram NAME`` / ``diagram --all``
(Mermaid state diagrams), ``machines`` (list the machines), ``docs`` (regenerate the generated
pages in ``docs/``, or check them with ``--check``), ``serve --host H --port P`` (the websocket
relay server of ``rtcstate_asyncio``, with its authentication, TLS and limits: see
:mod:`rtcstate_cli.serve`), ``demo [--scenario S] [--size-mb N] [--relay URL]``
(two agents over real WebRTC on loopback, see :mod:`rtcstate_cli.demo`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rtcstate import codes, diagrams
from rtcstate_cli import serve

GENERATED = {
    "codes.md": codes.render_markdown,
    "diagrams.md": diagrams.render_markdown,
}


def _docs(directory: Path, check: bool) -> int:
    stale = []
    for name, render in GENERATED.items():
        path = directory / name
        text = render()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if not check:
                path.write_text(text, encoding="utf-8")
    if check and stale:
        print(f"stale: {', '.join(stale)} (run: rtcstate docs)", file=sys.stderr)
        return 1
    print(("checked" if check else "wrote") + f" {len(GENERATED)} pages in {directory}")
    return 0


def _demo(scenario: str, size_mb: float, relay: str | None) -> int:
    import asyncio

    from rtcstate_cli.demo import run

    return asyncio.run(run(scenario, int(size_mb * (1 << 20)), relay_url=relay))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtcstate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_codes = sub.add_parser("codes", help="print the apiRTC codes catalogue")
    p_codes.add_argument("--markdown", action="store_true", help="print docs/codes.md")
    p_diag = sub.add_parser("diagram", help="print a machine's Mermaid state diagram")
    p_diag.add_argument("name", nargs="?", help="machine class name (see `rtcstate machines`)")
    p_diag.add_argument("--all", action="store_true", help="every machine, as Markdown")
    sub.add_parser("machines", help="list the machines with their states and triggers")
    p_docs = sub.add_parser("docs", help="regenerate docs/codes.md and docs/diagrams.md")
    p_docs.add_argument("--dir", type=Path, default=Path("docs"))
    p_docs.add_argument("--check", action="store_true", help="fail if a page is stale")
    serve.add_arguments(sub.add_parser("serve", help="run the websocket relay (Ctrl-C to stop)"))
    p_demo = sub.add_parser("demo", help="alice calls bob over real WebRTC on loopback")
    p_demo.add_argument(
        "--scenario", default="call", choices=["call", "decline", "busy", "notfound"],
        help="call (default): media, data channel, file, hangup; or a refusal",
    )  # fmt: skip
    p_demo.add_argument("--size-mb", type=float, default=4.0, help="size of the file sent")
    p_demo.add_argument(
        "--relay", metavar="URL", help="use the relay running at URL (rtcstate serve) instead of "
        "starting one in this process, e.g. ws://127.0.0.1:8765",
    )  # fmt: skip
    args = parser.parse_args(argv)

    if args.command == "codes":
        sys.stdout.write(codes.render_markdown() if args.markdown else codes.render_text())
        return 0
    if args.command == "diagram":
        specs = diagrams.load_all()
        if args.all:
            sys.stdout.write(diagrams.render_markdown())
            return 0
        if args.name not in specs:
            print(f"unknown machine {args.name!r}; known: {', '.join(specs)}", file=sys.stderr)
            return 2
        sys.stdout.write(specs[args.name].mermaid())
        return 0
    if args.command == "machines":
        for name, spec in diagrams.load_all().items():
            print(f"{name}: states {', '.join(s.name for s in spec.states)}")
            print(f"  triggers {', '.join(spec.triggers)}")
        return 0
    if args.command == "docs":
        return _docs(args.dir, args.check)
    if args.command == "demo":
        return _demo(args.scenario, args.size_mb, args.relay)
    if args.command == "serve":
        return serve.main(args)
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
