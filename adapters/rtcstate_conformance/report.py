"""The reports of the wire suite: ``report.json`` and a one-page ``report.html``.

Theory of operation
-------------------
:func:`write_reports` writes both files into a folder. The JSON holds the testee's name, the
counts per verdict and every case with its expectation, verdict, reasons and observations. The
HTML page is self-contained (no script, no outside resource): a table of the cases, each row a
``<details>`` element that expands to show the expectation, the reasons and the observations.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rtcstate_conformance.server import CaseResult

__all__ = ["write_reports"]

_COLOURS = {"pass": "#2e7d32", "non-strict": "#f9a825", "fail": "#c62828", "unsupported": "#757575"}


def summary(name: str, results: Sequence[CaseResult]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    return {
        "testee": name,
        "cases": len(results),
        "counts": counts,
        "results": [r.as_json() for r in results],
    }


def render_html(data: dict[str, Any]) -> str:
    esc = html.escape
    rows = []
    for r in data["results"]:
        colour = _COLOURS.get(r["verdict"], "#000")
        obs = "\n".join(f"{o['t']:8.3f}  {o['channel']:<8} {o['text']}" for o in r["observations"])
        reasons = "".join(f"<li>{esc(x)}</li>" for x in r["reasons"])
        rows.append(
            f"<tr><td>{esc(r['id'])}</td><td><details><summary>{esc(r['title'])}</summary>"
            f"<p><b>Expected:</b> {esc(r['expectation'])}</p>"
            + (f"<ul>{reasons}</ul>" if reasons else "")
            + f"<pre>{esc(obs)}</pre></details></td>"
            f"<td style='color:{colour};font-weight:bold'>{esc(r['verdict'])}</td>"
            f"<td>{r['duration']:.2f} s</td></tr>"
        )
    counts = ", ".join(f"{n} {esc(v)}" for v, n in sorted(data["counts"].items()))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>rtcstate wire conformance: {esc(data['testee'])}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
        "pre{font-size:12px;white-space:pre-wrap;max-width:100em}</style></head><body>"
        f"<h1>Wire conformance: {esc(data['testee'])}</h1>"
        f"<p>{data['cases']} cases: {counts}. Click a case to see its observations.</p>"
        "<table><tr><th>case</th><th>title</th><th>verdict</th><th>time</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )


def write_reports(directory: Path, name: str, results: Sequence[CaseResult]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    data = summary(name, results)
    json_path = directory / "report.json"
    html_path = directory / "report.html"
    json_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    html_path.write_text(render_html(data), encoding="utf-8")
    return json_path, html_path
