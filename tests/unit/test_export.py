"""ganprint export: PNG files named by generation index (seed%06d.png) or store index (image%06d.png)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganprint.cli import export as export_cli
from ganprint.cli.main import main as ganprint_main
from ganprint.data.store import ImageStoreWriter, StoreError
from ganprint.export import export_pngs
from ganprint.generate import source_of


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def _store(d: Path, images: np.ndarray, generated: bool, manifest: bool = True) -> Path:
    d.mkdir(parents=True)
    with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv" if manifest else None) as w:
        for i, img in enumerate(images):
            if generated:
                w.add(img, source=source_of(7, i), label="skimage-dcgan-nonsat-clean-seed0", seed=7)
            else:
                w.add(img, source="china.jpg", label="sklearn", seed=0)
    return d


def _text_file(path: Path) -> Path:
    path.write_text("hello", encoding="utf-8")
    return path


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_generated_store_exports_seed_index_pngs_with_the_stored_pixels(tmp_path):
    imgs = _images(5)
    store = _store(tmp_path / "gen", imgs, generated=True)
    assert export_cli.main([str(store), "--out", str(tmp_path / "png")]) == 0
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names == [f"seed{i:06d}.png" for i in range(5)]
    for i in range(5):
        np.testing.assert_array_equal(_read(tmp_path / "png" / f"seed{i:06d}.png"), imgs[i])


def test_real_store_and_store_file_and_limit(tmp_path):
    imgs = _images(4, seed=1)
    store = _store(tmp_path / "real", imgs, generated=False)
    # the .lmdb file itself names the store too; its manifest beside it says the images are not generated
    assert ganprint_main(["export", str(store / "images.lmdb"), "--out", str(tmp_path / "png"), "--limit", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [f"image{i:06d}.png" for i in range(3)]
    np.testing.assert_array_equal(_read(tmp_path / "png" / "image000002.png"), imgs[2])


def test_store_without_manifest_is_named_by_store_index(tmp_path):
    store = _store(tmp_path / "bare", _images(2), generated=True, manifest=False)
    paths = export_pngs(store, tmp_path / "png")
    assert [p.name for p in paths] == ["image000000.png", "image000001.png"]


def test_refuses_to_overwrite_without_the_flag(tmp_path, capsys):
    store = _store(tmp_path / "gen", _images(3), generated=True)
    out = tmp_path / "png"
    out.mkdir()
    (out / "seed000001.png").write_bytes(b"mine")
    assert export_cli.main([str(store), "--out", str(out)]) == 2
    assert "1 of the 3 files exist already (first: seed000001.png); pass --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["seed000001.png"]  # nothing written
    assert (out / "seed000001.png").read_bytes() == b"mine"
    assert export_cli.main([str(store), "--out", str(out), "--overwrite"]) == 0
    assert len(list(out.iterdir())) == 3
    np.testing.assert_array_equal(_read(out / "seed000001.png"), _images(3)[1])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "nope", "no such file or folder; pass a store folder"),
        (lambda d: d, "not an image store folder (no images.lmdb in it)"),
        (lambda d: _text_file(d / "x.lmdb"), "not a readable image store"),
    ],
)
def test_clear_errors_for_what_is_not_a_store(tmp_path, capsys, make, message):
    path = make(tmp_path)
    with pytest.raises(StoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        export_pngs(path, tmp_path / "out")
    assert export_cli.main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert f"ganprint export: error: {path}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
