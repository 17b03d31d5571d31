"""Packaging: the extras match the parts, a missing extra is one line, the pins are checked."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from rtcstate_aiortc import loopback

from rtcstate.extras import EXTRAS, MissingExtraError, installed, require

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
OPTIONAL = PYPROJECT["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[ ]", r, maxsplit=1)[0] for r in requirements}


def _expand(extra: str) -> set[str]:
    """The distributions an extra brings, following ``rtcstate[...]`` self-references."""
    names: set[str] = set()
    for requirement in OPTIONAL[extra]:
        nested = re.fullmatch(r"rtcstate\[(\w+)\]", requirement)
        names |= _expand(nested.group(1)) if nested else _names([requirement])
    return names


def test_each_part_has_its_extra() -> None:
    assert _expand("asyncio") == {"websockets", "pyjwt"}  # the relay verifies tokens
    assert _expand("aiortc") == {"websockets", "pyjwt", "aiortc", "aioice"}
    assert _expand("testing") == {"hypothesis", "pytest"}  # the kit is a pytest plugin
    assert {"hypothesis", "pytest", "mypy", "ruff", "import-linter"} <= _expand("dev")
    assert _expand("fast") == {"orjson"}
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= _expand("docs")
    assert _expand("cluster") == {"redis"}  # redis-py: its redis.asyncio client
    # rtcstate.extras names, for each extra, modules that the extra's distributions bring
    # (av comes with aiortc)
    for extra, modules in EXTRAS.items():
        assert set(modules) - {"av"} <= _expand(extra), extra


def test_the_makefile_installs_extras_that_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"pip install --quiet -e '\.\[([\w,]+)\]'", makefile)
    assert match is not None
    assert set(match.group(1).split(",")) <= set(OPTIONAL)
    assert {"dev", "fast", "aiortc", "docs", "cluster"} <= set(match.group(1).split(","))


def test_aiortc_is_a_range_and_the_patch_checks_it() -> None:
    aioice = next(r for r in OPTIONAL["aiortc"] if r.startswith("aioice"))
    aiortc = next(r for r in OPTIONAL["aiortc"] if r.startswith("aiortc"))
    assert "==" not in aioice and "==" not in aiortc  # relaxed, not pinned
    low, high = loopback.AIOICE_RANGE
    dotted = ".".join
    assert aioice == f"aioice>={dotted(map(str, low))},<{dotted(map(str, high))}"
    assert low <= loopback.check_aioice() < high  # the installed one is in range
    assert loopback.check_aioice("0.10.1") == (0, 10, 1)
    assert loopback.check_aioice("0.13.0rc1") == (0, 13, 0)
    for outside in ("0.10.0", "0.9.9", "0.14.0", "1.0"):
        with pytest.raises(loopback.UnsupportedAioiceError, match=r"aioice>=0\.10\.1,<0\.14"):
            loopback.check_aioice(outside)
    with pytest.raises(loopback.UnsupportedAioiceError):
        loopback.check_aioice("unknown")


def test_licence_is_an_spdx_string() -> None:
    # the setuptools deprecation warning is about a TOML table here; a string needs >= 77
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    require("asyncio", "here")  # installed: nothing happens
    assert installed("websockets") and not installed("no_such_module_rtcstate")
    monkeypatch.setitem(sys.modules, "websockets", None)  # import blocked
    with pytest.raises(MissingExtraError) as caught:
        require("aiortc", "rtcstate demo")
    assert str(caught.value) == (
        "rtcstate demo needs websockets, which is not installed: pip install 'rtcstate[aiortc]'"
    )
    assert caught.value.extra == "aiortc" and caught.value.name == "websockets"


def _run_without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing ``module`` fails as if absent."""
    prelude = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


CLI = "from rtcstate_cli import main; raise SystemExit(main(sys.argv[1:]))"


@pytest.mark.parametrize(
    ("module", "argv", "line"),
    [
        ("websockets", ["serve", "--port", "0"], "rtcstate serve needs websockets"),
        ("aiortc", ["demo"], "rtcstate demo needs aiortc"),
        ("aioice", ["demo"], "rtcstate demo needs aioice"),
    ],
)
def test_a_missing_extra_is_one_line_on_the_cli(module: str, argv: list[str], line: str) -> None:
    extra = "asyncio" if argv[0] == "serve" else "aiortc"
    done = _run_without(module, f"sys.argv[1:] = {argv!r}\n{CLI}")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"rtcstate: error: {line}, which is not installed: pip install 'rtcstate[{extra}]'"
    ]


def test_a_missing_extra_on_import_names_it() -> None:
    done = _run_without("websockets", "import rtcstate_asyncio")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "rtcstate.extras.MissingExtraError: rtcstate_asyncio needs websockets, which is not "
        "installed: pip install 'rtcstate[asyncio]'"
    )
    done = _run_without("aiortc", "import rtcstate_aiortc")
    assert done.stderr.splitlines()[-1].endswith("pip install 'rtcstate[aiortc]'")
    # the core and the commands that only need it work without any extra
    done = _run_without("websockets", f"sys.argv[1:] = ['codes']\n{CLI}")
    assert done.returncode == 0 and "ERROR_INVITATION_STATE_INVALID" in done.stdout


def test_every_package_folder_is_listed_for_setuptools() -> None:
    """The explicit package list is what a wheel holds: a new subpackage left out of it would
    install fine in editable mode (the tests) and be missing for users."""
    setup = PYPROJECT["tool"]["setuptools"]
    listed = set(setup["packages"])
    roots = {name: ROOT / path for name, path in setup["package-dir"].items() if name}
    roots["rtcstate"] = ROOT / "rtcstate"
    found: set[str] = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root)
            found.add(".".join((name, *relative.parts)))
    assert found == listed
