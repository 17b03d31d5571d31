"""``make mutation``: mutation testing with mutmut, one module at a time, each against its tests.

Each module of :data:`MODULES` is mutated alone, in a fresh copy of the repository under
``build/mutation/<module>/`` (mutmut works in a ``mutants/`` folder of its working directory,
configured by a ``setup.cfg`` written there), with its own subset of the test suite, in one
process (``--max-children 1``: the machine is shared). The raw score and every surviving mutant
are printed and written to ``build/mutation/<module>/survivors.txt``; docs/testing.md lists the
scores and how each survivor was handled (killed by a new test, or equivalent and why).

    make mutation                        # every module below, one after the other
    make mutation MODULES="retry hub.limits"   # some of them (keys of MODULES)
    make mutation MODULES="--sample 120 --seed 1 call"   # a uniform sample of call.py's mutants
    make mutation MODULES="--rerun negotiation"   # only the survivors of the last run, by name

A large module (call.py has thousands of mutants; mutmut manages about 0.25 a second on the
shared machine) is measured on a **sample**: every mutant is generated and the tests' coverage
collected once, then ``random.Random(seed)`` draws ``N`` names from the sorted list of all of
them and only those run (``mutmut run NAME...``). The score is then ``killed / N`` with its 95 %
Wilson interval (:func:`wilson`). ``--rerun`` runs, in a fresh copy (so new tests count), the
names listed in the module's last ``survivors.txt``: how a survivor is seen killed by its new test.
"""

from __future__ import annotations

import math
import random
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
    "call": (
        "rtcstate/call.py",
        ["tests/test_call_codes.py", "tests/test_call_mutants.py", "tests/test_call_table.py"],
    ),
    "reliable": (
        "rtcstate/reliable.py",
        ["tests/test_reliable.py", "tests/test_reliable_mutants.py"],
    ),
    "negotiation": (
        "rtcstate/negotiation.py",
        ["tests/test_negotiation.py", "tests/test_negotiation_mutants.py"],
    ),
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
    "recording": (
        "rtcstate/recording.py",
        ["tests/test_recording.py", "tests/test_recording_mutants.py"],
    ),
    "stream": ("rtcstate/stream.py", ["tests/test_stream.py"]),
    "invitation": (
        "rtcstate/invitation.py",
        ["tests/test_invitation.py", "tests/test_invitation_mutants.py"],
    ),
    "contact_post": (
        "rtcstate/contact_post.py",
        ["tests/test_contact_messaging.py", "tests/test_contact_post_mutants.py"],
    ),
    "datachannel": ("rtcstate/datachannel.py", ["tests/test_datachannel.py"]),
    "filetransfer": ("rtcstate/filetransfer.py", ["tests/test_filetransfer.py"]),
    "transfer.sender": (
        "rtcstate/transfer/sender.py",
        ["tests/test_transfer.py", "tests/test_transfer_property.py"],
    ),
    "transfer.receiver": (
        "rtcstate/transfer/receiver.py",
        ["tests/test_transfer.py", "tests/test_transfer_property.py"],
    ),
    "transfer.mux": (
        "rtcstate/transfer/mux.py",
        ["tests/test_transfer.py", "tests/test_transfer_property.py"],
    ),
    "conversation.machine": (
        "rtcstate/conversation/machine.py",
        ["tests/test_conversation.py", "tests/test_conversation_pairs.py"],
    ),
    "session_connection": (
        "rtcstate/session_connection.py",
        ["tests/test_session_table.py", "tests/test_session_streams.py"],
    ),
}

COPIED = ("rtcstate", "tests", "adapters", "pyproject.toml")
#: mutmut statuses that count as killed (``timeout``: the tests ran past mutmut's limit)
DETECTED = frozenset({"killed", "timeout"})


#: a name no mutant has: ``mutmut run`` with it generates the mutants and collects the tests'
#: coverage, then stops (nothing matches) without running a mutant
NO_MUTANT = "x_no_such_function__mutmut_0"


def wilson(killed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % for ``z = 1.96``) of a proportion ``killed / total``."""
    if total <= 0:
        raise ValueError("an interval needs at least one mutant")
    if not 0 <= killed <= total:
        raise ValueError(f"{killed} killed of {total}")
    p = killed / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    # the bounds hold the observed score exactly (rounding could put 0 / n just above 0)
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def sample(names: list[str], size: int, seed: int) -> list[str]:
    """A uniform sample of ``size`` mutant names (all of them if fewer), the same for a seed."""
    if size <= 0:
        raise ValueError("a sample holds at least one mutant")
    population = sorted(set(names))
    if size >= len(population):
        return population
    return sorted(random.Random(seed).sample(population, size))


def parse_results(text: str) -> list[tuple[str, str]]:
    """(mutant name, status) of each line of ``mutmut results --all true``."""
    return re.findall(r"^\s*(\S+): (\w[\w ]*)$", text, re.M)


def _results(mutmut: str, work: Path) -> list[tuple[str, str]]:
    done = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True
    )
    return parse_results(done.stdout)


def run(
    key: str, *, size: int | None = None, seed: int = 0, names: list[str] | None = None
) -> tuple[int, int, list[str]]:
    """Mutate module ``key``; (killed, total, surviving mutant names).

    With ``size``, only a uniform sample of that many mutants runs (``total`` is the sample's
    size); with ``names``, only those mutants.
    """
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
    chosen: list[str] = []
    with (work / "mutmut.log").open("w", encoding="utf-8") as log:
        if size is not None:
            # generate every mutant and collect coverage, run none; then draw the sample
            subprocess.run(
                [mutmut, "run", "--max-children", "1", NO_MUTANT],
                cwd=work,
                check=False,
                stdout=log,
                stderr=log,
            )
            chosen = sample([name for name, _ in _results(mutmut, work)], size, seed)
            (work / "sample.txt").write_text("\n".join(chosen) + "\n", encoding="utf-8")
        elif names is not None:
            chosen = sorted(set(names))
        if (size is not None or names is not None) and not chosen:
            return 0, 0, []
        subprocess.run(
            [mutmut, "run", "--max-children", "1", *chosen],
            cwd=work,
            check=False,
            stdout=log,
            stderr=log,
        )
    statuses = _results(mutmut, work)
    if chosen:
        wanted = set(chosen)
        statuses = [(name, status) for name, status in statuses if name in wanted]
    total = len(statuses)
    # a mutant that makes its tests run past mutmut's time limit was noticed (an endless loop)
    survivors = [name for name, status in statuses if status not in DETECTED]
    (work / "survivors.txt").write_text("\n".join(survivors) + "\n", encoding="utf-8")
    return total - len(survivors), total, survivors


def parse_args(argv: list[str]) -> tuple[list[str], int | None, int, bool]:
    """(module keys, sample size or None, seed, rerun) from the command line."""
    keys: list[str] = []
    size: int | None = None
    seed = 0
    rerun = False
    args = iter(argv)
    for arg in args:
        if arg in ("--sample", "--seed"):
            value = next(args, None)
            if value is None or not value.isdigit():
                raise ValueError(f"{arg} takes a whole number")
            if arg == "--sample":
                size = int(value)
                if size <= 0:
                    raise ValueError("--sample takes a positive number")
            else:
                seed = int(value)
        elif arg == "--rerun":
            rerun = True
        elif arg.startswith("-"):
            raise ValueError(f"unknown option {arg}")
        else:
            keys.append(arg)
    if rerun and size is not None:
        raise ValueError("--rerun runs the last survivors: it takes no --sample")
    return keys, size, seed, rerun


def report(key: str, killed: int, total: int, sampled: bool) -> str:
    """One line of the summary: the raw score, and the 95 % interval of a sample."""
    score = 100.0 * killed / total if total else 100.0
    line = f"{key}: {killed}/{total} killed ({score:.1f} %)"
    if sampled and total:
        low, high = wilson(killed, total)
        line += f", sample of {total}: 95 % interval {100 * low:.1f}-{100 * high:.1f} %"
    return line


def main(argv: list[str]) -> int:
    try:
        keys, size, seed, rerun = parse_args(argv)
    except ValueError as refused:
        print(refused)
        return 2
    keys = keys or list(MODULES)
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        print(f"unknown module {', '.join(unknown)}; known: {', '.join(MODULES)}")
        return 2
    lines = []
    for key in keys:
        names = None
        if rerun:
            listed = WORK / key / "survivors.txt"
            text = listed.read_text(encoding="utf-8") if listed.exists() else ""
            names = text.split()
        killed, total, survivors = run(key, size=size, seed=seed, names=names)
        lines.append(report(key, killed, total, size is not None))
        print(lines[-1], flush=True)
        for name in survivors:
            print(f"  survived: {name}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
