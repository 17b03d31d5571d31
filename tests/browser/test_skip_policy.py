"""Without Chromium the browser tests are skipped with the install command; under CI that is a
failure (DESIGN.md §10)."""

from __future__ import annotations

import pytest

from tests.browser import conftest


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_missing_chromium_is_a_skip_or_under_ci_a_failure(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setattr(conftest, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected) as info:
        conftest.require_browser()
    assert "apt-get install -y chromium" in str(info.value)
