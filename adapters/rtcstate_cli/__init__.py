"""``rtcstate``: the command-line entry point.

Sub-commands: ``codes`` (the apiRTC vocabulary catalogue), ``diagram NAME`` / ``diagram --all``
(Mermaid state diagrams), ``machines`` (list the machines), ``docs`` (regenerate the generated
pages in ``docs/``, or check them with ``--check``), ``serve --host H --port P [--web]`` (the
websocket relay server of ``rtcstate_asyncio``; ``--web`` also serves the browser client of
``rtcstate_browser``), ``demo [--scenario S] [--size-mb N] [--relay URL]`` (two agents over real
WebRTC on loopback, see :mod:`rtcstate_cli.demo`), ``agent --name N --relay URL`` (a Python
agent that answers calls, see :mod:`rtcstate_cli.agent`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rtcstate import codes, diagrams

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


def _serve(host: str, port: int, web: bool = False) -> int:
    import asyncio
    import contextlib
    import logging

    from rtcstate_asyncio.relay import run_relay  # only this command needs websockets

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_relay(host, port, process_request=_web_app() if web else None))
    return 0


def _web_app() -> Any:
    from rtcstate_browser.web import WebApp  # the browser client, served from the same port

    return WebApp()


def _agent(name: str, relay: str) -> int:
    import asyncio
    import contextlib

    from rtcstate_cli.agent import run

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(name, relay))
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
    p_serve = sub.add_parser("serve", help="run the websocket relay server (Ctrl-C to stop)")
    p_serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p_serve.add_argument("--port", type=int, default=8765, help="TCP port to listen on")
    p_serve.add_argument("--web", action="store_true", help="also serve the web page (make web)")
    p_agent = sub.add_parser("agent", help="a Python agent that answers calls (Ctrl-C to stop)")
    p_agent.add_argument("--name", default="bot", help="user name to register")
    p_agent.add_argument("--relay", default="ws://127.0.0.1:8765", metavar="URL")
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
        return _serve(args.host, args.port, args.web)
    if args.command == "agent":
        return _agent(args.name, args.relay)
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
