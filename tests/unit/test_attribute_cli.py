"""``ganprint attribute``: any image size by an explicit policy, odd modes converted, unreadable files skipped."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from attr_synth import CLASSES, images, write_store
from PIL import Image

from ganprint.attribution.splits import SplitManifest, build_split
from ganprint.attribution.train import train_classifier
from ganprint.cli import attribute as cli
from ganprint.cli.main import main as ganprint_main
from ganprint.hparams import PRNUHps

RES = 16


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A PRNU model on the three synthetic sources, calibrated on 10 val images per class."""
    root = tmp_path_factory.mktemp("attr")
    stores = {k: write_store(root / k, k, 40, RES, 10 + i) for i, k in enumerate(CLASSES)}
    split = SplitManifest.from_frame(
        build_split({k: [(f"gan/{k}", s)] for k, s in stores.items()}, {"train": 20, "val": 10, "test": 10})
    )
    cfg = SimpleNamespace(epochs=1, batch_size=8, seed=0)
    train_classifier(split, cfg, PRNUHps(), "prnu", root / "model.pt", protocol="toy")
    return root / "model.pt"


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    periodic, noise = images("periodic", 1, RES, 99)[0], images("noise", 1, RES, 98)[0]
    Image.fromarray(periodic).save(d / "a_periodic.png")
    big = np.kron(images("noise", 1, RES, 97)[0], np.ones((2, 3, 1), dtype=np.uint8))  # 32x48, noise blown up
    Image.fromarray(big).save(d / "b_big.png")
    rgba = np.dstack([noise, np.full((RES, RES), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(d / "sub" / "c_rgba.png")
    grey16 = (np.asarray(Image.fromarray(periodic).convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(d / "sub" / "d_grey16.png")
    (d / "e_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    return d


def _run(argv, capsys):
    rc = ganprint_main(["attribute", "--device", "cpu", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_folder_with_a_corrupt_file_and_other_sizes(model, folder, tmp_path, capsys):
    out = tmp_path / "out.json"
    rc, _, err = _run([str(folder), "--model", str(model), "--format", "json", "--out", str(out)], capsys)
    assert rc == 0
    assert f"skipped {folder / 'e_corrupt.png'}: corrupt" in err and err.count("skipped") == 1
    r = json.loads(out.read_text())
    names = [p.rsplit("/", 1)[1] for p in (x["path"] for x in r["images"])]
    assert names == ["a_periodic.png", "b_big.png", "c_rgba.png", "d_grey16.png"]  # sorted, recursive
    assert [s["path"].rsplit("/", 1)[1] for s in r["skipped"]] == ["e_corrupt.png"]
    assert r["classes"] == CLASSES and r["resolution"] == RES and r["policy"] == "crop-resize"
    assert r["threshold"] is not None and "validation images" in r["calibration"]
    by = {n: x for n, x in zip(names, r["images"], strict=True)}
    assert by["a_periodic.png"]["predicted"] == "periodic" and by["a_periodic.png"]["rejected"] is False
    assert by["c_rgba.png"]["predicted"] == "noise"  # opaque alpha composited away: the noise image itself
    assert by["d_grey16.png"]["closed_set_predicted"] == "periodic"  # 16-bit grey → 8-bit RGB, pattern kept
    for x in r["images"]:
        assert sum(x["scores"].values()) == pytest.approx(1.0, abs=1e-5)
        assert x["confidence"] == pytest.approx(max(x["scores"].values()), abs=1e-6)
        assert x["rejected"] == (x["confidence"] < r["threshold"])
        assert x["predicted"] == ("unknown" if x["rejected"] else x["closed_set_predicted"])


def test_policies_and_csv(model, folder, capsys):
    # center-crop cannot make a 16 px image from nothing but can crop the big one; crop-resize and resize differ
    rc, out, err = _run([str(folder / "b_big.png"), "--model", str(model), "--policy", "center-crop"], capsys)
    assert rc == 0 and "skipped" not in err
    lines = out.splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    assert "# policy: center-crop" in comments and any(ln.startswith("# open-set calibration:") for ln in comments)
    header, row = [ln for ln in lines if not ln.startswith("#")]
    assert header == "path,predicted,closed_set_predicted,confidence,rejected,score_noise,score_periodic,score_smooth"
    assert row.startswith(str(folder / "b_big.png") + ",")
    big = np.asarray(Image.open(folder / "b_big.png"))
    assert cli.fit_to(big, RES, "center-crop", "lanczos").tolist() == big[8:24, 16:32].tolist()
    assert cli.fit_to(big, RES, "crop-resize", "box").tolist() == (
        np.asarray(Image.fromarray(big[:, 8:40]).resize((RES, RES), Image.Resampling.BOX)).tolist()
    )
    assert cli.fit_to(big, RES, "resize", "nearest").shape == (RES, RES, 3)
    small = np.zeros((8, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="smaller than the model's 16 px"):
        cli.fit_to(small, RES, "center-crop", "lanczos")
    same = big[:RES, :RES]
    assert cli.fit_to(same, RES, "resize", "lanczos") is same  # already the model's size: untouched


def test_tta_and_exit_codes(model, folder, tmp_path, capsys):
    rc, out, _ = _run([str(folder / "a_periodic.png"), "--model", str(model), "--tta", "rot_flips"], capsys)
    assert rc == 0 and "# tta: rot_flips" in out
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"")
    rc, _, err = _run([str(bad), "--model", str(model)], capsys)
    assert rc == 2
    assert "skipped" in err and "empty" in err and "no image could be attributed" in err
    rc, _, err = _run([str(tmp_path / "nope"), "--model", str(model)], capsys)
    assert rc == 2 and "no such file or folder" in err
