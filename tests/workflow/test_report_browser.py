"""The two reports of a real (tiny) build, opened in headless Chromium as a person would (issue 9 §6).

``results/index.html`` (make_report) must show every table with rows and every figure loaded; the Snakemake
report (``snakemake --report``) must carry every report() output with its caption and render in the browser.
CI installs Debian's chromium + chromium-driver (.ci/run); elsewhere the browser part is skipped with the reason.
"""

from __future__ import annotations

import pytest
from conftest import run

from ganprint.config import load_params
from ganprint.paths import TABLE_NAMES
from ganprint.report.browser import check_page, find_chromium
from ganprint.report.captions import CAPTIONS
from ganprint.report.index_page import report_figures

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
)


@needs_chromium
def test_results_page_of_a_real_build_in_chromium(smk_built, tmp_path):
    page = smk_built / "results" / "index.html"
    figures = report_figures(load_params(smk_built / "params.yaml"))
    r = check_page(page, tmp_path / "index.png")
    assert r.problems == []
    assert len(r.tables) == len(TABLE_NAMES) and all(rows >= 1 for _, rows in r.tables)
    assert sorted(src for src, _, _ in r.images) == sorted(f"../{f}" if not f.startswith("results/") else
                                                           f.removeprefix("results/") for f, _ in figures)  # fmt: skip
    assert all(done and width > 0 for _, done, width in r.images)
    assert r.screenshot_std > 8


def test_snakemake_report_of_a_real_build(smk_built, tmp_path):
    out = tmp_path / "report.html"
    run(["snakemake", "--report", str(out)], smk_built)
    html = out.read_text(encoding="utf-8")
    for kind, (_, category) in CAPTIONS.items():  # the tiny build has an artifact of every kind
        assert category in html, kind
    for name in TABLE_NAMES:  # every table is in the report
        assert f"{name}.csv" in html
    for name in ("confusion_closed_set_postpool.png", "robustness_closed_set_postpool.png", "cam.png", "tsne.png"):
        assert name in html
    if find_chromium() is not None:
        r = check_page(out, tmp_path / "report.png", wait_for="#app nav, #app a")
        assert r.problems == []
