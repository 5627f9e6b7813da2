"""Report: deterministic PNG grids with an exact mosaic layout; the fingerprint and GAN tables from hand-written
metrics (the attribution tables: test_tables.py)."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from conftest import tiny_params
from PIL import Image

from ganprint.config import PAPER_REFERENCES, parse_params
from ganprint.errors import StageError
from ganprint.io import write_json
from ganprint.paths import (
    GAN_NAME,
    METRICS_DETECT,
    METRICS_EMBED,
    METRICS_FP_AE,
    METRICS_GAN,
)
from ganprint.report.figures import grid_image, save_grid
from ganprint.report.paper_numbers import ATTRIBUTION, FINGERPRINT_TRANSFER
from ganprint.report.tables import fingerprint_table, gan_table, make_table

# -- grids -------------------------------------------------------------------------------------------------


def _tiles(n: int, h: int = 4, w: int = 4) -> np.ndarray:
    """Tile i is filled with the value 10 · (i + 1) (channel 0) so its position in the mosaic can be checked."""
    out = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        out[i, ..., 0] = 10 * (i + 1)
        out[i, ..., 1] = i
    return out


@pytest.mark.parametrize(("n", "rows", "cols"), [(1, 1, 1), (4, 2, 2), (5, 2, 3), (10, 3, 4), (16, 4, 4)])
def test_grid_shape(n, rows, cols):
    g = grid_image(_tiles(n, 4, 6))
    assert g.dtype == np.uint8
    assert g.shape == (rows * (4 + 2) + 2, cols * (6 + 2) + 2, 3)


def test_grid_layout_exact():
    tiles = _tiles(5)
    g = grid_image(tiles)  # 3 columns, 2 rows, 2 px white padding
    assert g.shape == (14, 20, 3)
    for i in range(5):
        r, q = divmod(i, 3)
        y, x = 2 + 6 * r, 2 + 6 * q
        np.testing.assert_array_equal(g[y : y + 4, x : x + 4], tiles[i])
    mask = np.ones(g.shape[:2], bool)
    for i in range(5):
        r, q = divmod(i, 3)
        mask[2 + 6 * r : 6 + 6 * r, 2 + 6 * q : 6 + 6 * q] = False
    assert (g[mask] == 255).all()  # padding and the empty 6th cell are white
    assert (g[8:12, 14:18] == 255).all()


def test_grid_custom_pad():
    g = grid_image(_tiles(2), pad=0)
    assert g.shape == (4, 8, 3)
    np.testing.assert_array_equal(g[:, 4:], _tiles(2)[1])


def test_save_grid_bytes_are_deterministic(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    save_grid(images, tmp_path / "a" / "samples.png")
    save_grid(images.copy(), tmp_path / "b" / "samples.png")
    a = (tmp_path / "a" / "samples.png").read_bytes()
    assert a == (tmp_path / "b" / "samples.png").read_bytes()
    assert a[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"tIME" not in a and b"tEXt" not in a  # no timestamp, no software tag
    back = np.asarray(Image.open(tmp_path / "a" / "samples.png"))
    np.testing.assert_array_equal(back, grid_image(images))
    assert os.listdir(tmp_path / "a") == ["samples.png"]


# -- tables ------------------------------------------------------------------------------------------------

METHODS = ["postpool", "gandct", "knn", "prnu", "visnet", "classmodel", "dnadet"]  # every registered method


def _tiny() -> dict:
    """The tiny preset with every method in its training protocol (the tables must list them all)."""
    data = tiny_params()
    data["protocols"]["closed_set"]["methods"] = list(METHODS)
    return data


DETECT = {
    "skimage-dcgan-nonsat-clean-seed0": 0.5123456,
    "skimage-dcgan-nonsat-clean-seed1": 0.4987654,
    "skimage-dcgan-nonsat-fingerprinted-seed0": 0.9765432,
}


GAN_METRICS = {  # evaluate_gan's keys the tables read, per GAN of the tiny preset
    "skimage-dcgan-nonsat-clean-seed0": {"fid": 120.0, "kid_mean": 0.0123456, "kid_std": 0.0011111},
    "skimage-dcgan-nonsat-clean-seed1": {"fid": 98.7654, "kid_mean": 0.05, "kid_std": 0.002346},
    "skimage-dcgan-nonsat-fingerprinted-seed0": {"fid": 123.456, "kid_mean": 0.1, "kid_std": 0.0},
}


@pytest.fixture
def metrics_root(tmp_path):
    params = parse_params(_tiny())
    write_json(tmp_path / METRICS_FP_AE.format(dataset="skimage"), {"bit_accuracy": 0.953125, "psnr_db": 30.0})
    for fp, acc in zip(params.fingerprints, (0.99609375, 0.875), strict=False):
        write_json(
            tmp_path / METRICS_EMBED.format(variant=fp, dataset="skimage"),
            {"bits": 8, "bit_accuracy": acc, "psnr_db": 31.23456, "ssim": 0.912345, "images": 96, "identical": True},
        )
    sets = {
        name: {
            "variant": params.gan_list[name].variant,
            "bit_accuracy": acc,
            "images": 24,
            "scored_against": "fingerprinted",
            **({"attribution_accuracy": 0.75} if "fingerprinted" in name else {}),
        }
        for name, acc in DETECT.items()
    }
    write_json(
        tmp_path / METRICS_DETECT.format(dataset="skimage"),
        {
            "bits": 8,
            "registered": list(params.fingerprints),
            "threshold_hamming": 1,
            "target_fpr": 0.01,
            "measured_fpr": 0.0123,
            "fpr_images": 81,
            "attribution_accuracy": 0.75,
            "sets": sets,
        },
    )
    for name, m in GAN_METRICS.items():
        write_json(
            tmp_path / METRICS_GAN.replace(GAN_NAME, name),
            m | {"num_fake": 24, "num_real": 48, "weights": "TF-FID InceptionV3", "resize": "tf_bilinear 32->299"},
        )
    return tmp_path


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _make(params, name, out, root) -> None:
    """Write one table (the fingerprint and GAN tables read no attribution protocol)."""
    files = make_table(params, name, out, root)
    assert files == [str(out / f"{name}.{e}") for e in ("csv", "md", "tex")]


def assert_md_table_is_the_csv(md: str, rows: list[dict]) -> None:
    """The Markdown table holds the CSV's header and cells, less the CSV's scale column (a note in the Markdown)."""
    rows = [{k: v for k, v in r.items() if k != "scale"} for r in rows]
    table = [line for line in md.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    assert cells[0] == list(rows[0])
    assert all(set(c) <= set(":-") for c in cells[1])  # the alignment rule
    assert len(cells) == 2 + len(rows)
    for md_row, row in zip(cells[2:], rows, strict=True):
        for got, (col, want) in zip(md_row, row.items(), strict=True):
            try:
                assert float(got) == float(want), col
            except ValueError:
                assert got == want, col


def test_paper_numbers_cover_the_params_choices():
    assert set(PAPER_REFERENCES) - {""} <= set(ATTRIBUTION)
    assert ATTRIBUTION["yu2019_table2"]["methods"]["postpool"] == {"CelebA": "99.5", "LSUN": "97.7"}
    assert FINGERPRINT_TRANSFER["fingerprinted"] == 0.98


def test_fingerprint_table_numbers(metrics_root, tmp_path):
    params = parse_params(_tiny())
    _make(params, "fingerprints", tmp_path / "t", metrics_root)
    rows = _csv(tmp_path / "t" / "fingerprints.csv")
    assert list(rows[0]) == [
        "images",
        "variant",
        "resolution_px",
        "bits",
        "bit_accuracy",
        "psnr_db",
        "ssim",
        "fid",
        "fid_clean_twin",
        "attributed_to_own_%",
        "paper_bit_accuracy",
        "paper_readme",
        "note",
        "scale",
    ]
    fps = list(params.fingerprints)
    assert [r["images"] for r in rows] == [
        *(f"skimage: training images with fingerprint {fp}" for fp in fps),
        "samples of skimage-dcgan-nonsat-clean-seed0",
        "samples of skimage-dcgan-nonsat-clean-seed1",
        "samples of skimage-dcgan-nonsat-fingerprinted-seed0",
        f"skimage: proactive attribution (registry of {len(fps)} fingerprints)",
    ]
    emb, s0, s1, fp0, attr = rows[0], *rows[len(fps) :]
    assert (emb["variant"], emb["resolution_px"], emb["bits"], emb["bit_accuracy"], emb["psnr_db"], emb["ssim"]) == (
        "fingerprinted",
        "32",
        "8",
        "0.9961",
        "31.23",
        "0.9123",
    )
    assert emb["paper_bit_accuracy"] == "1.0 (unverified)"
    assert emb["note"] == "autoencoder on fresh random bits: 0.9531"  # the autoencoder's own, 4 decimals
    assert (s0["variant"], s0["bit_accuracy"], s0["fid"], s0["paper_bit_accuracy"]) == (
        "clean",
        "0.5123",
        "",
        "0.5 (chance)",
    )
    assert s0["note"] == s1["note"] == "control: clean data, scored against fingerprinted"
    assert s1["bit_accuracy"] == "0.4988"  # 0.4987654 to 4 decimals
    assert (fp0["variant"], fp0["bit_accuracy"], fp0["paper_bit_accuracy"]) == ("fingerprinted", "0.9765", "0.98")
    assert (fp0["fid"], fp0["fid_clean_twin"], fp0["attributed_to_own_%"]) == ("123.46", "120.0", "75.0")
    assert fp0["paper_readme"].startswith("n/a (README: 0.93-0.99")  # dcgan: no such generator in the README
    assert fp0["note"] == "GAN trained on fingerprinted data"
    assert attr["attributed_to_own_%"] == "75.0"
    assert attr["note"] == (
        "Hamming threshold 1 for target FPR 0.01: measured FPR 0.0123 on 81 held-out real/clean-GAN images"
    )
    md = (tmp_path / "t" / "fingerprints.md").read_text()
    assert md.startswith("# Artificial fingerprints: bit accuracy (Yu et al. 2021)\n\n|")
    assert_md_table_is_the_csv(md, rows)
    notes = [line for line in md.splitlines() if line.startswith("- ")]
    assert notes[:2] == [
        "- Scale: 32 px images (the embedded CPU demo; the papers use 128 px).",
        f"- Paper: {FINGERPRINT_TRANSFER['reference']}.",
    ]


def test_fingerprint_table_paper_readme_for_stylegan2():
    from ganprint.report.tables import _paper_readme

    assert _paper_readme("stylegan2") == (
        "CelebA 128 (150k): FID 6.23, bit acc 0.99; LSUN Bedroom 128 (50k): FID 14.71, bit acc 0.99; "
        "LSUN Cat 256: FID 32.6, bit acc 0.99"
    )


def test_fingerprint_table_needs_the_fid(metrics_root):
    (metrics_root / METRICS_GAN.replace(GAN_NAME, "skimage-dcgan-nonsat-clean-seed0")).unlink()
    with pytest.raises(StageError, match="gan/skimage-dcgan-nonsat-clean-seed0.json: metrics not found"):
        fingerprint_table(parse_params(_tiny()), metrics_root)


def test_fingerprint_table_frame(metrics_root):
    df = fingerprint_table(parse_params(_tiny()), metrics_root)
    n = len(parse_params(_tiny()).fingerprints)
    assert len(df) == n + 4
    assert df["bit_accuracy"].tolist()[0] == 0.9961  # the training images carrying fingerprint 'fingerprinted'
    assert df["bit_accuracy"].tolist()[n : n + 3] == [0.5123, 0.4988, 0.9765]


def test_gan_table_numbers(metrics_root, tmp_path):
    params = parse_params(_tiny())
    _make(params, "gans", tmp_path / "t", metrics_root)
    rows = _csv(tmp_path / "t" / "gans.csv")
    head = ["gan", "arch", "loss", "variant", "seed", "resolution_px", "train_steps", "fid", "kid_x1000"]
    assert list(rows[0]) == [*head, "num_fake", "num_real", "scale"]
    assert [r["gan"] for r in rows] == list(params.gan_list) == list(GAN_METRICS)  # one row per GAN, grid order
    assert [[r[k] for k in head] for r in rows] == [
        ["skimage-dcgan-nonsat-clean-seed0", "dcgan", "nonsat", "clean", "0", "32", "3", "120.0", "12.35 ± 1.11"],
        ["skimage-dcgan-nonsat-clean-seed1", "dcgan", "nonsat", "clean", "1", "32", "3", "98.77", "50.00 ± 2.35"],
        [
            "skimage-dcgan-nonsat-fingerprinted-seed0",
            *("dcgan", "nonsat", "fingerprinted", "0", "32", "3"),
            *("123.46", "100.00 ± 0.00"),
        ],
    ]
    assert {(r["num_fake"], r["num_real"]) for r in rows} == {("24", "48")}
    md = (tmp_path / "t" / "gans.md").read_text()
    assert md.startswith("# The GAN zoo: FID and KID of every GAN against its dataset's real images\n\n|")
    assert_md_table_is_the_csv(md, rows)
    notes = [line for line in md.splitlines() if line.startswith("- ")]
    assert notes[:2] == [
        "- Scale: 32 px images (the embedded CPU demo; the papers use 128 px).",
        "- Features: TF-FID InceptionV3; resize: tf_bilinear 32->299.",  # from the first GAN's metrics
    ]
    assert notes[2].startswith("- KID is reported x1000 as mean ± std over random subsets;")


def test_gan_table_decimals_and_a_finetuned_gan(metrics_root):
    data = _tiny()
    data["make_tables"] = {"decimals": 1}
    data["gans"]["finetuned"] = {
        "dataset": ["skimage"],
        "arch": ["dcgan"],
        "loss": ["nonsat"],
        "variant": ["ft-sklearn"],
        "seed": [1],
    }
    params = parse_params(data)
    name = "skimage-dcgan-nonsat-ft-sklearn-seed1"
    write_json(
        metrics_root / METRICS_GAN.replace(GAN_NAME, name),
        {"fid": 77.77, "kid_mean": 0.00444, "kid_std": 0.00026, "num_fake": 24, "num_real": 48},
    )
    df = gan_table(params, metrics_root)
    assert df["gan"].tolist() == [*GAN_METRICS, name]
    assert df["fid"].tolist() == [120.0, 98.8, 123.5, 77.8]
    assert df["kid_x1000"].tolist() == ["12.3 ± 1.1", "50.0 ± 2.3", "100.0 ± 0.0", "4.4 ± 0.3"]
    # a fine-tuned GAN: finetune_gan's steps (defaults.yaml: 100), the others train_gan's (tiny: 3)
    assert df["train_steps"].tolist() == [3, 3, 3, 100]
    assert df["variant"].tolist()[-1] == "ft-sklearn"


def test_gan_table_needs_every_gans_metrics(metrics_root):
    (metrics_root / METRICS_GAN.replace(GAN_NAME, "skimage-dcgan-nonsat-clean-seed1")).unlink()
    with pytest.raises(StageError, match="gan/skimage-dcgan-nonsat-clean-seed1.json: metrics not found"):
        gan_table(parse_params(_tiny()), metrics_root)
