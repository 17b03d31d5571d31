"""The documentation site builds in strict mode (a broken link, anchor or API reference fails),
renders the Mermaid diagrams, and carries the API reference generated from the docstrings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config.parent,
        env=ENV,
    )


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = _build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stdout + done.stderr
    # every page of docs/ is a page of the site
    for page in (ROOT / "docs").rglob("*.md"):
        relative = page.relative_to(ROOT / "docs").with_suffix("")
        html = site / "index.html" if relative.name == "index" else site / relative / "index.html"
        assert html.is_file(), f"{page} has no page in the site"
    # the Mermaid diagrams are rendered by the theme: one <pre class="mermaid"> per fence
    fences = (ROOT / "docs" / "diagrams.md").read_text(encoding="utf-8").count("```mermaid")
    diagrams = (site / "diagrams" / "index.html").read_text(encoding="utf-8")
    assert fences > 0 and len(re.findall(r'class="mermaid"', diagrams)) == fences
    # the API reference comes from the docstrings
    api = (site / "api" / "asyncio" / "index.html").read_text(encoding="utf-8")
    for name in ("EventStream", "hang_up", "run_until_signal", "DataReceivedInfo", "UserAgent"):
        assert name in api, name
    assert "SessionConfig" in (site / "api" / "core" / "index.html").read_text(encoding="utf-8")


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the missing page](missing.md).\n", "utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: docs\n", encoding="utf-8")
    done = _build(config, tmp_path / "site")
    assert done.returncode != 0
    assert "missing.md" in done.stdout + done.stderr
