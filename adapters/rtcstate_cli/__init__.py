"""``rtcstate``: the command-line entry point.

Sub-commands: ``codes [NAME]`` (the apiRTC vocabulary catalogue, or one code's meaning),
``diagram NAME`` / ``diagram --all`` (Mermaid state diagrams), ``machines`` (list the
machines), ``docs`` (regenerate the generated pages in ``docs/``, or check them with
``--check``), ``serve --host H --port P [--web]`` (the websocket relay server of
``rtcstate_asyncio``; ``--web`` also serves the browser client; authentication, TLS and limits:
see :mod:`rtcstate_cli.serve`), ``agent --name N`` (a Python agent to call, see
:mod:`rtcstate_cli.agent`), ``demo [--scenario S] [--size-mb N] [--relay URL]`` (two agents
over real WebRTC on loopback, see :mod:`rtcstate_cli.demo`), ``conformance`` (the wire
conformance suite against a client, see :mod:`rtcstate_cli.conformance`). A user's mistake
gives one line and an exit code, never a traceback (:mod:`rtcstate_cli.errors`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rtcstate import codes, diagrams
from rtcstate.extras import require
from rtcstate_cli import errors, serve
from rtcstate_cli.errors import guarded
from rtcstate_cli.lookup import describe

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


def _agent(name: str, relay: str, ice_servers: list[str], media_file: str | None) -> int:
    import asyncio
    import contextlib

    from rtcstate_aiortc.ice import ice_servers_from

    from rtcstate_cli.agent import run

    try:
        ice_servers_from(ice_servers)
        if media_file is not None and not Path(media_file).is_file():
            raise ValueError(f"no media file {media_file!r}")
    except ValueError as exc:
        print(f"rtcstate agent: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(name, relay, ice_servers=ice_servers, media_file=media_file))
    return 0


def _demo(scenario: str, size_mb: float, relay: str | None) -> int:
    import asyncio

    require("aiortc", "rtcstate demo")  # every scenario has media (the conference's mesh too)
    from rtcstate_cli.demo import run

    return asyncio.run(run(scenario, int(size_mb * (1 << 20)), relay_url=relay))


DESCRIPTION = (
    "rtcstate: the apiRTC call model as sans-I/O state machines. Look codes up, draw the "
    "machines, run the relay or the WebRTC demo."
)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless there is none to show (None, a flag's False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtcstate", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=_Help)

    p_codes = command("codes", "print the apiRTC codes catalogue, or look one code up")
    p_codes.add_argument(
        "name", nargs="?", help="a code to look up with its full meaning: a hangup reason, "
        "error code, numbered error (0-17) or status, e.g. User_Busy or 16",
    )  # fmt: skip
    p_codes.add_argument("--markdown", action="store_true", help="print docs/codes.md")
    p_diag = command("diagram", "print a machine's Mermaid state diagram")
    p_diag.add_argument("name", nargs="?", help="machine class name (list: rtcstate machines)")
    p_diag.add_argument("--all", action="store_true", help="every machine, as Markdown")
    command("machines", "list the machines with their states and triggers")
    p_docs = command("docs", "regenerate docs/codes.md and docs/diagrams.md")
    p_docs.add_argument(
        "--dir", type=Path, default=Path("docs"), help="the docs folder of the repository"
    )
    p_docs.add_argument("--check", action="store_true", help="fail if a page is stale")
    serve.add_arguments(
        command("serve", "run the websocket relay server (Ctrl-C or SIGTERM to stop)")
    )
    p_agent = command("agent", "a Python agent that answers calls (Ctrl-C to stop)")
    p_agent.add_argument("--name", default="bot", help="user name to register")
    p_agent.add_argument(
        "--relay", default="ws://127.0.0.1:8765", metavar="URL", type=errors.relay_url
    )
    p_agent.add_argument(
        "--ice-server", action="append", default=[], metavar="URL[,USER,CREDENTIAL]",
        help="a STUN/TURN server for a deployment (repeatable; none: loopback only)",
    )  # fmt: skip
    p_agent.add_argument(
        "--media-file", metavar="PATH", help="send this media file (looped) instead of the "
        "synthetic pattern and tone",
    )  # fmt: skip
    p_demo = command("demo", "alice calls bob over real WebRTC on loopback")
    p_demo.add_argument(
        "--scenario", default="call",
        choices=["call", "decline", "busy", "notfound", "conference"],
        help="call: media, data channel, file, hangup; or a refusal; conference: a moderator "
        "and three agents (waiting room, admitted and denied, messages, eject, close)",
    )  # fmt: skip
    p_demo.add_argument(
        "--size-mb", type=errors.positive, default=4.0, help="size of the file sent, in MiB"
    )
    p_demo.add_argument(
        "--relay", metavar="URL", type=errors.relay_url, help="use the relay running at URL "
        "(rtcstate serve) instead of starting one in this process, e.g. ws://127.0.0.1:8765",
    )  # fmt: skip
    from rtcstate_cli import conformance

    conformance.add_arguments(
        command("conformance", "run the wire conformance suite against a client")
    )
    args = parser.parse_args(argv)
    return guarded(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "codes":
        if args.name is not None:
            sys.stdout.write(describe(args.name))
            return 0
        sys.stdout.write(codes.render_markdown() if args.markdown else codes.render_text())
        return 0
    if args.command == "diagram":
        specs = diagrams.load_all()
        if args.all:
            sys.stdout.write(diagrams.render_markdown())
            return 0
        if args.name not in specs:
            given = "no machine named" if args.name is None else f"unknown machine {args.name!r}"
            raise errors.UsageError(f"{given}; known: {', '.join(specs)} (or --all)")
        sys.stdout.write(specs[args.name].mermaid())
        return 0
    if args.command == "machines":
        for name, spec in diagrams.load_all().items():
            print(f"{name}: states {', '.join(s.name for s in spec.states)}")
            print(f"  triggers {', '.join(spec.triggers)}")
        return 0
    if args.command == "docs":
        if not args.dir.is_dir():
            raise errors.UsageError(
                f"no {args.dir} folder here: run rtcstate docs from the repository's root, or "
                "give --dir DIR"
            )
        return _docs(args.dir, args.check)
    if args.command == "demo":
        return _demo(args.scenario, args.size_mb, args.relay)
    if args.command == "serve":
        return serve.main(args)
    if args.command == "agent":
        return _agent(args.name, args.relay, args.ice_server, args.media_file)
    if args.command == "conformance":
        from rtcstate_cli import conformance

        return conformance.main(args)
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
