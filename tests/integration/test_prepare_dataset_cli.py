"""``ganprint prepare-dataset``: main([...]) on tiny data writes exactly the files it promises."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import tiny_params
from PIL import Image

from ganprint.cli import prepare_dataset as cli
from ganprint.cli.main import main as ganprint_main
from ganprint.data.store import ImageStore, read_manifest

FILES = {"images.lmdb", "manifest.csv", "samples.png", "report.json", "resolved_config.json"}


def _params(tmp_path, photos) -> str:
    data = {
        "datasets": {
            "demo": {"source": "embedded", "path": "sklearn", "resolution": 16, "num_images": 30, "seed": 2},
            "photos": {"source": "folder", "path": str(photos), "resolution": 16},
        },
        "prepare_dataset": {
            "workers": 2,
            "resize_filter": "bicubic",
            "max_skipped_fraction": 0.5,
            "grid_images": 9,
        },
    }
    # the other sections as in the tiny pipeline (params.yaml must be complete)
    tiny = tiny_params()
    data = tiny | data | {"datasets": tiny["datasets"] | data["datasets"]}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "sub/b.png", "C.PNG"):
        Image.fromarray(rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(d / name)
    (d / "broken.jpg").write_bytes(b"")
    return d


def test_embedded_demo(tmp_path, photos):
    out = tmp_path / "data/clean/demo"
    rc = cli.main(["--params", _params(tmp_path, photos), "--dataset", "demo", "--out", str(out)])
    assert rc == 0
    assert set(os.listdir(out)) == FILES
    with ImageStore(out / "images.lmdb") as store:
        assert len(store) == 30 and store.shape == (16, 16, 3)
    rep = json.loads((out / "report.json").read_text())
    assert (rep["written"], rep["resize_filter"], rep["resolution"]) == (30, "bicubic", 16)
    resolved = json.loads((out / "resolved_config.json").read_text())
    assert resolved["selectors"] == {"dataset": "demo"}
    assert resolved["prepare_dataset"]["resize_filter"] == "bicubic"
    assert resolved["datasets.demo"]["num_images"] == 30 and resolved["datasets.demo"]["source"] == "embedded"
    grid = Image.open(out / "samples.png")
    assert grid.size == (3 * 18 + 2, 3 * 18 + 2)


def test_folder_via_ganprint_dispatch(tmp_path, photos):
    out = tmp_path / "out"
    log = tmp_path / "logs/prepare.log"
    argv = [
        "prepare-dataset",
        "--params",
        _params(tmp_path, photos),
        "--dataset",
        "photos",
        "--out",
        str(out),
    ]
    assert ganprint_main(argv + ["--log", str(log)]) == 0
    rows = read_manifest(out / "manifest.csv")
    assert [r["source"] for r in rows] == ["C.PNG", "a.jpg", "sub/b.png"]
    assert {r["label"] for r in rows} == {"photos"}
    rep = json.loads((out / "report.json").read_text())
    assert rep["skipped_by_reason"]["empty"] == 1 and rep["seen"] == 4
    assert "3 images written, 1 of 4 skipped" in log.read_text()


def test_unknown_dataset_lists_the_defined_ones(tmp_path, photos, capsys):
    rc = cli.main(["--params", _params(tmp_path, photos), "--dataset", "celeba", "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "'celeba' is not in params.yaml 'datasets'; defined: demo, photos, skimage, sklearn" in err
    assert not (tmp_path / "o").exists()


def test_too_many_skipped_exits_2(tmp_path, photos, capsys):
    params = tmp_path / "strict.yaml"
    data = yaml.safe_load(Path(_params(tmp_path, photos)).read_text())
    data["prepare_dataset"]["max_skipped_fraction"] = 0.1
    params.write_text(yaml.safe_dump(data))
    out = tmp_path / "o"
    assert cli.main(["--params", str(params), "--dataset", "photos", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1 of 4 files skipped (25.0%)" in err and "max_skipped_fraction = 0.1" in err
    assert not (out / "images.lmdb").exists() and not (out / "resolved_config.json").exists()


def test_help_has_the_example(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "ganprint prepare-dataset --params params.yaml --dataset skimage --out data/clean/skimage" in text
    assert "Crop and resize an image source into an LMDB store + manifest" in text
    assert cli.__doc__.splitlines()[0] == (
        "Crop and resize an image source into an LMDB store + manifest (the design card's dataset cropping)."
    )


def test_modules_exist():
    from ganprint.stages import STAGES

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    modules = STAGES["prepare_dataset"].module_files
    assert modules[0] == "src/ganprint/cli/prepare_dataset.py"
    for m in modules:
        assert os.path.isfile(os.path.join(root, m)), m
