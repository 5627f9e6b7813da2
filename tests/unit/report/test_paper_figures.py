"""Paper figures: each figure function writes a PNG of the expected size, the same bytes for the same inputs;
make-figures writes exactly the files figure_paths promises, from the inputs figure_inputs lists."""

from __future__ import annotations

import json

import pytest
from fake_results import (
    curves_csv,
    fake_params,
    grid,
    none_metrics,
    robustness_metrics,
    stats_rows,
    write_inputs,
)
from PIL import Image

from ganprint.cli import _common
from ganprint.cli import make_figures as cli
from ganprint.report import figures as F
from ganprint.report.paper_figures import figure_inputs, figure_paths, figure_plan


def _draw(kind: str, tmp_path, out):
    """Draw one figure of ``kind`` from small inputs written under tmp_path."""
    if kind == "confusion":
        F.confusion_figure(none_metrics(), out)
    elif kind == "robustness":
        F.robustness_figure({k: robustness_metrics(k) for k in ("noise", "blur", "jpeg", "crop")}, out)
    elif kind == "training":
        (tmp_path / "a.jsonl").write_text(stats_rows(), encoding="utf-8")
        (tmp_path / "k.jsonl").write_text('{"step": 1, "train_vectors": 10}\n', encoding="utf-8")
        F.training_curves_figure({"postpool": tmp_path / "a.jsonl", "knn": tmp_path / "k.jsonl"}, out)
    elif kind == "gans":
        (tmp_path / "c.csv").write_text(curves_csv(), encoding="utf-8")
        F.gan_curves_figure({f"gan{i}": tmp_path / "c.csv" for i in range(5)}, out)
    elif kind == "sources":
        for i in range(3):
            grid(tmp_path / f"g{i}.png", i)
        F.source_grid_figure({f"gan/g{i}": tmp_path / f"g{i}.png" for i in range(3)}, out)


# (width, height) of each figure at 100 dpi: figsize × dpi, as the functions size them for these inputs
SIZES = {
    "confusion": (440, 360),  # 2 classes: side max(3.6, 0.55·2 + 2) = 3.6 in, + 0.8 in for the colour bar
    "robustness": (1260, 730),  # 4 kinds → 3 columns × 2 rows of 4.2 × 3.4 in, + 0.5 in for the title
    "training": (1000, 400),
    "gans": (1360, 550),  # 5 GANs → 4 columns × 2 rows of 3.4 × 2.6 in, + 0.3 in
    "sources": (720, 260),  # 3 grids in one row of 2.4 × 2.6 in
}


@pytest.mark.parametrize("kind", sorted(SIZES))
def test_figure_size_and_same_bytes(kind, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    _draw(kind, tmp_path, a)
    _draw(kind, tmp_path, b)
    with Image.open(a) as im:
        assert im.format == "PNG"
        assert im.size == SIZES[kind]
        assert "Software" not in im.info  # no version tag in the bytes
        assert im.convert("L").getextrema()[0] < 100  # something is drawn (not a white page)
    assert a.read_bytes() == b.read_bytes()


def test_confusion_matrix_must_be_square_per_class(tmp_path):
    m = none_metrics()
    m["confusion_matrix"] = [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ValueError, match=r"shape \(2, 3\), expected \(2, 2\)"):
        F.confusion_figure(m, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_robustness_without_immunized_model_and_without_curve(tmp_path):
    F.robustness_figure({"noise": robustness_metrics("noise", immunized=False)}, tmp_path / "r.png")
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (420, 390)  # one panel 4.2 × 3.4 in + 0.5 in
    with pytest.raises(ValueError, match="the blur metrics have no 'curve'"):
        F.robustness_figure({"blur": {"perturbation": "blur"}}, tmp_path / "x.png")


def test_figure_plan_names_paths_inputs():
    params = fake_params()
    # one folder per figure kind (the make_figures outputs)
    assert figure_paths(params, "out") == {
        "confusion_closed_set_postpool": "out/confusion/confusion_closed_set_postpool.png",
        "confusion_closed_set_knn": "out/confusion/confusion_closed_set_knn.png",
        "robustness_closed_set_postpool": "out/robustness/robustness_closed_set_postpool.png",
        "training_closed_set": "out/training/training_closed_set.png",
        "sources_closed_set": "out/sources/sources_closed_set.png",
        # cross_seed evaluates closed_set's classifiers: its methods and first seed, no training figure of its own
        "confusion_cross_seed_postpool": "out/confusion/confusion_cross_seed_postpool.png",
        "confusion_cross_seed_knn": "out/confusion/confusion_cross_seed_knn.png",
        "sources_cross_seed": "out/sources/sources_cross_seed.png",
        "gans_training": "out/gans/gans_training.png",
    }
    jobs = {j.name: j for j in figure_plan(params)}
    e = "results/metrics/evaluate_robustness/closed_set/postpool/seed3"  # paths.METRICS_ROBUSTNESS_ATTR
    assert jobs["robustness_closed_set_postpool"].inputs == {"noise": f"{e}/noise.json", "jpeg": f"{e}/jpeg.json"}
    assert jobs["confusion_cross_seed_knn"].inputs == {  # paths.METRICS_ATTRIBUTION, closed_set's first seed
        "knn": "results/metrics/evaluate_attribution/cross_seed/knn/seed3.json"
    }
    assert jobs["training_closed_set"].inputs == {
        m: f"results/models/classifier/closed_set/{m}/seed3/stats.jsonl" for m in ("postpool", "knn")
    }
    assert jobs["sources_cross_seed"].inputs == {
        "real/skimage": "data/clean/skimage/samples.png",
        "gan/skimage-progan-wgangp-clean-seed0": "results/samples/skimage/progan/wgangp/clean/seed0/samples.png",
        "gan/skimage-progan-wgangp-clean-seed1": "results/samples/skimage/progan/wgangp/clean/seed1/samples.png",
    }
    assert list(jobs["gans_training"].inputs) == list(params.gan_list)
    inputs = figure_inputs(params)
    # 4 none (2 protocols × 2 methods) + 2 robustness + 2 stats + 3 grids + 3 GAN curves, sorted, each once
    assert inputs == sorted(set(inputs)) and len(inputs) == 14


@pytest.fixture
def fake_load(monkeypatch):
    params = fake_params()
    monkeypatch.setattr(_common, "load_params", lambda path: params)
    return params


def test_cli_writes_exactly_the_promised_files(tmp_path, fake_load, capsys):
    write_inputs(tmp_path, fake_load)
    out = tmp_path / "figs"
    assert cli.main(["--params", "p.yaml", "--root", str(tmp_path), "--out", str(out)]) == 0
    promised = figure_paths(fake_load, out)
    assert sorted(p.name for p in out.iterdir()) == ["confusion", "gans", "robustness", "sources", "training"]
    written = sorted(str(p) for p in out.rglob("*") if p.is_file())
    assert written == sorted(promised.values())
    assert all(promised[n] == str(out / n.split("_")[0] / f"{n}.png") for n in promised)
    assert capsys.readouterr().out.split() == list(promised.values())
    first = {p: p.read_bytes() for p in out.rglob("*.png")}
    assert cli.main(["--root", str(tmp_path), "--out", str(out)]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*.png")} == first  # same inputs ⇒ same bytes


def test_cli_missing_input_is_a_clear_error(tmp_path, fake_load, capsys):
    write_inputs(tmp_path, fake_load)
    (tmp_path / "results/metrics/evaluate_attribution/closed_set/knn/seed3.json").unlink()
    assert cli.main(["--root", str(tmp_path), "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert "make-figures: error: missing input(s) of 1 figure(s)" in err
    assert f"confusion_closed_set_knn: {tmp_path}/results/metrics/evaluate_attribution/closed_set/knn/seed3.json" in err
    assert not (tmp_path / "figs").exists()  # nothing drawn


def test_training_figure_reads_statswriter_rows(tmp_path):
    """The stats.jsonl format is StatsWriter's: one sorted-keys JSON object per line, 'step' + values."""
    from ganprint.train.common import StatsWriter

    s = StatsWriter(tmp_path / "stats.jsonl", 3, "t")
    for step in (1, 2, 3):
        s.add(step, loss=1.0 / step, train_acc=0.5 + 0.1 * step)
    s.close()
    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert rows[2] == {"loss": pytest.approx(1 / 3, abs=1e-6), "step": 3, "train_acc": pytest.approx(0.8)}
    F.training_curves_figure({"postpool": tmp_path / "stats.jsonl"}, tmp_path / "t.png")
    with Image.open(tmp_path / "t.png") as im:
        assert im.size == (1000, 400)
