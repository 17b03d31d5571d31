"""``make mutation``: mutation testing with mutmut, one module at a time, each against its tests.

Each module of :data:`MODULES` is mutated alone, in a fresh copy of the repository under
``build/mutation/<module>/`` (mutmut works in a ``mutants/`` folder of its working directory,
configured by a ``setup.cfg`` written there), with its own subset of the test suite, in one
process (``--max-children 1``: the machine is shared). The raw score and every surviving mutant
are printed and written to ``build/mutation/<module>/survivors.txt``; docs/testing.md lists the
scores and how each survivor was handled (killed by a new test, or equivalent and why).

    make mutation                        # every module below, one after the other
    make mutation MODULES="retry hub.limits"   # some of them (keys of MODULES)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"

#: module key -> (file to mutate, the tests that cover it)
MODULES: dict[str, tuple[str, list[str]]] = {
    "retry": ("rtcstate/retry.py", ["tests/test_retry.py", "tests/test_retry_mutants.py"]),
    "hub.limits": (
        "rtcstate/hub/limits.py",
        ["tests/test_hub.py", "tests/test_hub_security.py", "tests/test_hub_mutants.py"],
    ),
    "hub.routing": (
        "rtcstate/hub/routing.py",
        ["tests/test_hub.py", "tests/test_hub_security.py", "tests/test_hub_mutants.py"],
    ),
    "hub.core": (
        "rtcstate/hub/core.py",
        [
            "tests/test_hub.py",
            "tests/test_hub_security.py",
            "tests/test_hub_rooms.py",
            "tests/test_hub_mutants.py",
        ],
    ),
    "hub.presence": (
        "rtcstate/hub/presence.py",
        ["tests/test_hub.py", "tests/test_presence_scope.py", "tests/test_hub_security.py"],
    ),
    "rooms_routing": ("rtcstate/rooms_routing.py", ["tests/test_rooms_routing.py"]),
    "rooms": ("rtcstate/rooms.py", ["tests/test_rooms.py", "tests/test_rooms_property.py"]),
    "call": ("rtcstate/call.py", ["tests/test_call_codes.py", "tests/test_call_mutants.py"]),
    "reliable": (
        "rtcstate/reliable.py",
        ["tests/test_reliable.py", "tests/test_reliable_mutants.py"],
    ),
    "negotiation": ("rtcstate/negotiation.py", ["tests/test_negotiation.py"]),
    "presence_groups": (
        "rtcstate/presence_groups.py",
        ["tests/test_presence_groups.py", "tests/test_session.py"],
    ),
    "session_timers": (
        "rtcstate/session_timers.py",
        ["tests/test_session.py", "tests/test_session_timers.py"],
    ),
    # the same module against its own unit test only (the session's tests run every mutant
    # of the book for minutes: its survivors under them are re-run here)
    "session_timers.own": ("rtcstate/session_timers.py", ["tests/test_session_timers.py"]),
    "recording": ("rtcstate/recording.py", ["tests/test_recording.py"]),
    "stream": ("rtcstate/stream.py", ["tests/test_stream.py"]),
}

COPIED = ("rtcstate", "tests", "adapters", "pyproject.toml")
#: mutmut statuses that count as killed (``timeout``: the tests ran past mutmut's limit)
DETECTED = frozenset({"killed", "timeout"})


def run(key: str) -> tuple[int, int, list[str]]:
    """Mutate module ``key``; (killed, total, surviving mutant names)."""
    path, tests = MODULES[key]
    work = WORK / key
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / name)
    selection = "\n    ".join(t for t in tests if (ROOT / t).exists())
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths=rtcstate\n"
        f"only_mutate=\n    {path}\n"
        f"pytest_add_cli_args_test_selection=\n    {selection}\n"
        "pytest_add_cli_args=\n    -p\n    no:cacheprovider\n    -q\n    -x\n"
        "also_copy=\n    adapters\n",
        encoding="utf-8",
    )
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    with (work / "mutmut.log").open("w", encoding="utf-8") as log:
        subprocess.run(
            [mutmut, "run", "--max-children", "1"], cwd=work, check=False, stdout=log, stderr=log
        )
    done = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True
    )
    statuses = re.findall(r"^\s*(\S+): (\w[\w ]*)$", done.stdout, re.M)
    total = len(statuses)
    # a mutant that makes its tests run past mutmut's time limit was noticed (an endless loop)
    survivors = [name for name, status in statuses if status not in DETECTED]
    (work / "survivors.txt").write_text("\n".join(survivors) + "\n", encoding="utf-8")
    return total - len(survivors), total, survivors


def main(argv: list[str]) -> int:
    keys = argv or list(MODULES)
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        print(f"unknown module {', '.join(unknown)}; known: {', '.join(MODULES)}")
        return 2
    lines = []
    for key in keys:
        killed, total, survivors = run(key)
        score = 100.0 * killed / total if total else 100.0
        lines.append(f"{key}: {killed}/{total} killed ({score:.1f} %)")
        print(lines[-1], flush=True)
        for name in survivors:
            print(f"  survived: {name}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
