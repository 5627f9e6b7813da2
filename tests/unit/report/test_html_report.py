"""The static results page: write_index renders every table and figure with relative links and the same bytes for the
same inputs; headless Chromium sees it non-blank with every image loaded and every table filled, and the check
fails on a broken image, an empty table or a blank page. Also the make-report CLI and the report captions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_results import fake_params, png, write_report_inputs, write_tables

from ganprint.cli import _common
from ganprint.cli import make_report as cli
from ganprint.report.browser import check_page, find_chromium
from ganprint.report.captions import CAPTIONS, WORKFLOW_DESCRIPTION, caption_from
from ganprint.report.html import SECTIONS, figure_section, read_table, write_index
from ganprint.report.index_page import report_figures, report_inputs, report_tables

REPO = Path(__file__).resolve().parents[3]
needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="headless browser check needs Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver; .ci/run installs them)",
)


def _tiny_tree(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Two tables and three small PNGs under ``root``."""
    write_tables(root / "results/tables")
    figs = [
        ("results/figures/paper/confusion_closed_set_postpool.png", "Confusion <closed_set> & postpool"),
        ("results/figures/attribution/closed_set/postpool/tsne.png", "t-SNE: closed_set / postpool"),
        ("results/fingerprint_robustness/skimage/dcgan/nonsat/fingerprinted/seed0/curves.png", "Fingerprint"),
    ]
    for i, (f, _) in enumerate(figs):
        png(root / f, value=60 * i)
    tables = [Path("results/tables/yu2019_table1.md"), Path("results/tables/gans.md")]
    return tables, [(Path(f), c) for f, c in figs]


def test_write_index_content_links_and_same_bytes(tmp_path):
    tables, figs = _tiny_tree(tmp_path)
    out = tmp_path / "results/index.html"
    write_index(tmp_path, out, tables, figs)
    page = out.read_text(encoding="utf-8")
    first = out.read_bytes()
    write_index(tmp_path, out, tables, figs)
    assert out.read_bytes() == first
    # relative links only, nothing fetched from outside (works offline from file://)
    assert str(tmp_path) not in page
    assert re.findall(r'<img src="([^"]+)"', page) == [
        "figures/paper/confusion_closed_set_postpool.png",
        "figures/attribution/closed_set/postpool/tsne.png",
        "fingerprint_robustness/skimage/dcgan/nonsat/fingerprinted/seed0/curves.png",
    ]
    assert "http://" not in page and "https://" not in page and "<script" not in page
    # captions and titles are escaped; the sections follow SECTIONS
    assert "Confusion &lt;closed_set&gt; &amp; postpool" in page
    assert "<h3>The GAN zoo: FID &lt;and&gt; KID</h3>" in page
    assert "<li>Scale: 32 px images &amp; CPU.</li>" in page
    h2 = re.findall(r"<h2>([^<]+)</h2>", page)
    assert h2 == ["Tables", "Confusion matrices", "t-SNE", "Fingerprint robustness"]
    # the CSV beside the Markdown gives the values; links to both files
    assert "<td>skimage-progan-wgangp-clean-seed0</td>" in page and "<td>344.54</td>" in page
    assert '<a href="tables/gans.md">md</a> · <a href="tables/gans.csv">csv</a>' in page


def test_write_index_missing_figure(tmp_path):
    tables, figs = _tiny_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.png: figure missing"):
        write_index(tmp_path, tmp_path / "index.html", tables, [*figs, (Path("nope.png"), "x")])
    assert not (tmp_path / "index.html").exists()


def test_read_table_markdown_only(tmp_path):
    (tmp_path / "t.md").write_text(
        "# Title\n\nProse line.\n\n| a | b |\n|:--|--:|\n| x | 1.5 |\n| y | 2 |\n\n- note one\n- note two\n",
        encoding="utf-8",
    )
    title, notes, df = read_table(tmp_path / "t.md")
    assert title == "Title"
    assert notes == ["Prose line.", "note one", "note two"]
    assert df.columns.tolist() == ["a", "b"]
    assert df.values.tolist() == [["x", "1.5"], ["y", "2"]]
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "none.md")


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("results/figures/paper/robustness_closed_set_postpool.png", "Robustness curves"),
        ("results/figures/paper/training_closed_set.png", "Training curves"),
        ("results/figures/paper/gans_training.png", "Training curves"),
        ("results/figures/paper/sources_cross_seed.png", "Sample grids"),
        ("data/clean/skimage/samples.png", "Sample grids"),
        ("results/figures/attribution/p/m/cam.png", "Grad-CAM / CAM"),
        ("results/figures/attribution/p/m/fingerprints.png", "Fingerprint visualisation"),
        ("results/fingerprint_robustness/a/b/c/d/seed0/curves.png", "Fingerprint robustness"),
        ("elsewhere.png", "Other figures"),
    ],
)
def test_figure_section(path, section):
    assert figure_section(path) == section
    assert section in SECTIONS


# -- headless Chromium -----------------------------------------------------------------------------------------
@needs_chromium
def test_browser_check_passes_on_the_results_page(tmp_path):
    tables, figs = _tiny_tree(tmp_path)
    out = tmp_path / "results/index.html"
    write_index(tmp_path, out, tables, figs)
    r = check_page(out, tmp_path / "shot.png")
    assert r.problems == []
    assert [w for _, _, w in r.images] == [40, 40, 40]  # every PNG decoded at its width
    assert r.tables == [("table-yu2019-table1", 3), ("table-gans", 2)]
    assert r.screenshot_std > 8.0
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
def test_browser_check_fails_on_broken_image_empty_table_and_blank_page(tmp_path):
    png(tmp_path / "ok.png")
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><h1>Results</h1><p>Some text to draw.</p>"
        '<img src="ok.png"><img src="missing.png" alt="gone">'
        '<table id="full"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>'
        '<table id="empty"><thead><tr><th>a</th></tr></thead><tbody></tbody></table>'
        "</body></html>",
        encoding="utf-8",
    )
    r = check_page(page)
    assert r.problems == ["image did not load: missing.png", "table without rows: empty"]
    assert not r.ok
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    r = check_page(blank)
    assert r.screenshot_std == pytest.approx(0.0)
    assert [p.split(":")[0] for p in r.problems] == ["the page looks blank"]


# -- make-report -------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_load(monkeypatch):
    params = fake_params()
    monkeypatch.setattr(_common, "load_params", lambda path: params)
    return params


def test_report_figures_of_params(fake_load):
    figs = report_figures(fake_load)
    paths = [f for f, _ in figs]
    # paper figures, interpret (closed_set trains, cross_seed evaluates its classifiers: no figures of its own),
    # fingerprint robustness, grids
    assert len(paths) == len(set(paths)) == 9 + 1 * 2 * 3 + 1 + 1 + 1 + 3
    assert "results/figures/attribution/closed_set/knn/seed3/cam.png" in paths
    assert not any(p.startswith("results/figures/attribution/cross_seed") for p in paths)
    assert "results/fingerprint_robustness/skimage/dcgan/nonsat/fingerprinted/seed0/curves.png" in paths
    assert "data/fingerprinted/skimage/samples.png" in paths
    assert report_inputs(fake_load) == paths


def test_report_tables_order(tmp_path):
    write_tables(tmp_path)
    (tmp_path / "zzz.csv").write_text("a\n1\n", encoding="utf-8")
    (tmp_path / "aaa.csv").write_text("a\n1\n", encoding="utf-8")
    assert [p.name for p in report_tables(tmp_path)] == ["yu2019_table1.md", "gans.md", "aaa.csv", "zzz.csv"]


def test_cli_make_report(tmp_path, fake_load, capsys):
    write_report_inputs(tmp_path, fake_load)
    out = tmp_path / "results/index.html"
    assert cli.main(["--params", "p.yaml", "--root", str(tmp_path), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(srcs) == sorted(f.removeprefix("results/") if f.startswith("results/") else f"../{f}"
                                  for f in report_inputs(fake_load))  # fmt: skip
    assert page.count("<table") == 2
    # a missing figure fails the stage, unless --allow-missing leaves it out
    (tmp_path / "results/figures/paper/gans/gans_training.png").unlink()  # make_figures: a folder per kind
    assert cli.main(["--root", str(tmp_path), "--out", str(out)]) == 2
    assert "gans_training.png: figure missing" in capsys.readouterr().err
    assert cli.main(["--root", str(tmp_path), "--out", str(out), "--allow-missing"]) == 0
    assert "gans_training.png" not in out.read_text(encoding="utf-8")


@needs_chromium
def test_cli_make_report_in_the_browser(tmp_path, fake_load):
    write_report_inputs(tmp_path, fake_load)
    out = tmp_path / "results/index.html"
    assert cli.main(["--root", str(tmp_path), "--out", str(out)]) == 0
    r = check_page(out)
    assert r.problems == []
    assert len(r.images) == len(report_inputs(fake_load)) and len(r.tables) == 2


# -- captions for snakemake --report ------------------------------------------------------------------------------
def test_captions_exist():
    assert set(CAPTIONS) == {"table", "confusion", "robustness", "training", "gan_training", "samples", "tsne", "cam",
                             "fingerprints", "fingerprint_robustness"}  # fmt: skip
    for kind, (rst, category) in CAPTIONS.items():
        assert (REPO / rst).read_text(encoding="utf-8").strip(), kind
        assert category
    assert (REPO / WORKFLOW_DESCRIPTION).is_file()
    assert caption_from("tsne", "workflow/rules") == "../report/tsne.rst"


SNAKEFILE = """
from ganprint.report.captions import CAPTIONS, WORKFLOW_DESCRIPTION
REPO = {repo!r}
report: REPO + "/" + WORKFLOW_DESCRIPTION
rule all:
    input: [f"out/{{k}}.png" for k in CAPTIONS]
for k, (caption, category) in CAPTIONS.items():
    rule:
        name: f"fig_{{k}}"
        input: "fig.png"
        output: report(f"out/{{k}}.png", caption=REPO + "/" + caption, category=category)
        shell: "cp {{input}} {{output}}"
"""


def test_captions_render_in_snakemake_report(tmp_path):
    """Every caption is valid reStructuredText for Snakemake's report, which then opens in the browser."""
    import os
    import subprocess
    import sys

    png(tmp_path / "fig.png")
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(repo=str(REPO)), encoding="utf-8")
    smk = [str(Path(sys.executable).parent / "snakemake"), "--directory", str(tmp_path), "-s", "Snakefile"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    for extra in (["--cores", "1"], ["--report", "report.html"]):
        r = subprocess.run(smk + extra, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for kind, (rst, category) in CAPTIONS.items():
        words = " ".join((REPO / rst).read_text(encoding="utf-8").split()[:4]).replace("``", "")
        assert words in html, kind
        assert category in html
    if find_chromium() is not None:
        r = check_page(tmp_path / "report.html", wait_for="#app nav, #app a")
        assert r.problems == []
