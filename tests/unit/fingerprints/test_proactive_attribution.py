"""Reference-named checkpoints load (PAPERS §2.1), the registry and its calibrated Hamming threshold, the sample
grid reader, and the per-dataset detect job (registry, attribution, FPR, bit accuracy by step)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganprint.config import DetectFingerprintsCfg
from ganprint.data.store import ImageStoreWriter
from ganprint.errors import StageError
from ganprint.fingerprints.common import bits_to_str, read_fingerprint_file, write_fingerprint_file
from ganprint.fingerprints.compat import load_net, ours_to_reference, reference_to_ours
from ganprint.fingerprints.detect import detect_dataset, read_grid
from ganprint.fingerprints.registry import (
    NONE,
    attribute,
    calibrate_threshold,
    hamming,
    read_registry,
    split_negatives,
    write_registry,
)
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.report.figures import save_grid

# -- compat -------------------------------------------------------------------------------------------------


def test_reference_names_load_into_our_nets(tmp_path):
    torch.manual_seed(0)
    enc, dec = StegaStampEncoder(32, 12), StegaStampDecoder(32, 12)
    ref_enc = ours_to_reference(enc.state_dict(), "encoder")
    assert "up6.weight" in ref_enc and "up6.conv.weight" not in ref_enc  # the reference's flat names
    assert set(reference_to_ours(ref_enc, "encoder")) == set(enc.state_dict())
    torch.save(ref_enc, tmp_path / "encoder.pth")
    torch.save(ours_to_reference(dec.state_dict(), "decoder"), tmp_path / "decoder.pth")
    dec2 = load_net(tmp_path / "decoder.pth", "decoder")  # n and R read from the weights
    enc2 = load_net(tmp_path / "encoder.pth", "encoder", resolution=32)
    assert dec2.model_args() == {"resolution": 32, "bits": 12}
    x, b = torch.rand(2, 3, 32, 32), torch.randint(0, 2, (2, 12)).float()
    with torch.no_grad():
        assert torch.equal(dec2(x), dec.eval()(x))
        assert torch.equal(enc2(x, b), enc.eval()(x, b))


def test_mismatching_state_dict_is_refused(tmp_path):
    sd = ours_to_reference(StegaStampDecoder(32, 12).state_dict(), "decoder")
    sd["extra.weight"] = torch.zeros(1)
    del sd["decoder.2.weight"]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(StageError, match=r"does not match a StegaStamp decoder.*missing \['decoder.2.weight'\]"):
        load_net(tmp_path / "bad.pth", "decoder")
    torch.save({"foo": torch.zeros(1)}, tmp_path / "foreign.pth")
    with pytest.raises(StageError, match="not a StegaStamp decoder state_dict"):
        load_net(tmp_path / "foreign.pth", "decoder")


# -- registry -----------------------------------------------------------------------------------------------


def test_hamming_and_attribute():
    fps = np.array([[0, 0, 0, 0], [1, 1, 1, 1]])
    dec = np.array([[0, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]])
    assert hamming(dec, fps).tolist() == [[1, 3], [2, 2], [4, 0]]
    assert attribute(dec, fps, ["a", "b"], 1) == ["a", NONE, "b"]
    assert attribute(dec, fps, ["a", "b"], 2) == ["a", "a", "b"]  # a tie goes to the first registered
    assert attribute(dec, fps, ["a", "b"], -1) == [NONE, NONE, NONE]


def test_calibrate_threshold_exact():
    d = np.array([0, 3, 5, 5, 6, 7, 8, 8, 9, 10])
    assert calibrate_threshold(d, 0.1) == 2  # ≤ 2: 1 of 10; ≤ 3: 2 of 10
    assert calibrate_threshold(d, 0.3) == 4  # ≤ 4: 2 of 10; ≤ 5: 4 of 10
    assert calibrate_threshold(d, 0.95) == 9  # ≤ 9: 9 of 10
    assert calibrate_threshold(d, 0.05) == -1  # one image decodes to a registered fingerprint exactly


def test_registry_rejects_real_and_clean_images_at_the_target_fpr():
    """Synthetic decoded strings, 32 bits: real images decode near-randomly, a clean GAN to one FIXED pattern
    plus a little noise (issue 8), fingerprinted GANs to their fingerprint plus noise."""
    rng = np.random.default_rng(0)
    n = 32
    fps = rng.integers(0, 2, (3, n))
    real = rng.integers(0, 2, (2000, n))
    fixed = fps[0].copy()
    fixed[:9] ^= 1  # the clean GAN's pattern sits 9 bits from fingerprint 0: far closer than chance (16)
    clean = np.where(rng.random((2000, n)) < 0.03, 1 - fixed, fixed)
    neg = np.concatenate([real, clean])
    cal, held = split_negatives(len(neg))
    t = calibrate_threshold(hamming(neg[cal], fps).min(1), 0.01)
    fpr = np.mean(hamming(neg[held], fps).min(1) <= t)
    assert fpr <= 0.02  # the target on held-out images, within sampling error
    # a threshold assumed from chance (bit accuracy 0.75 → 8 bits) would let the clean GAN's samples through
    assert np.mean(hamming(clean, fps).min(1) <= 8) < np.mean(hamming(clean, fps).min(1) <= 9)
    assert t < 9 - 1  # calibration pushed the threshold below the clean GAN's distance
    pos = np.where(rng.random((300, n)) < 0.02, 1 - fps[1], fps[1])
    assert np.mean(np.array(attribute(pos, fps, ["a", "b", "c"], t)) == "b") >= 0.95


def test_registry_file_round_trip(tmp_path):
    rows = [
        {"fingerprint": "fingerprinted", "dataset": "d", "seed": 42, "bits": "0101", "identical": True, "models": []},
        {"fingerprint": "fp-b", "dataset": "d", "seed": 7, "bits": "", "identical": False, "models": ["g1", "g2"]},
    ]
    write_registry(tmp_path / "r.csv", rows)
    assert (tmp_path / "r.csv").read_text().splitlines() == [
        "fingerprint,dataset,seed,bits,identical,models",
        "fingerprinted,d,42,0101,true,",
        "fp-b,d,7,,false,g1;g2",
    ]
    assert read_registry(tmp_path / "r.csv") == rows


# -- grids and the per-dataset job ---------------------------------------------------------------------------


def test_read_grid_inverts_save_grid(tmp_path):
    imgs = np.random.default_rng(1).integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)
    save_grid(imgs, tmp_path / "step000010.png")
    np.testing.assert_array_equal(read_grid(tmp_path / "step000010.png", 7, 16), imgs)
    with pytest.raises(StageError, match="is not 10 tiles of 16 px"):  # 4 columns, not 3
        read_grid(tmp_path / "step000010.png", 10, 16)


def _store(path, images):
    with ImageStoreWriter(path, path.parent / "manifest.csv") as w:
        for img in images:
            w.add(img)
    return path


def test_detect_dataset(tmp_path):
    torch.manual_seed(0)
    res, n_bits = 16, 8
    dec = StegaStampDecoder(res, n_bits).eval()
    torch.save(ours_to_reference(dec.state_dict(), "decoder"), tmp_path / "decoder.pth")  # reference weights
    rng = np.random.default_rng(0)
    real = _store(tmp_path / "real" / "images.lmdb", rng.integers(0, 256, (10, res, res, 3), dtype=np.uint8))
    g_fp = _store(tmp_path / "gfp" / "images.lmdb", rng.integers(0, 256, (6, res, res, 3), dtype=np.uint8))
    g_cl = _store(tmp_path / "gcl" / "images.lmdb", rng.integers(0, 256, (6, res, res, 3), dtype=np.uint8))
    # what the decoder reads from the fingerprinted GAN's first sample is registered as its fingerprint
    with torch.no_grad():
        first = (dec(_first(g_fp)) > 0).numpy()[0]
    fp_bits = first.astype(np.uint8)
    write_fingerprint_file(tmp_path / "e1.txt", ["00000000", "00000001"], [fp_bits, fp_bits])
    write_fingerprint_file(tmp_path / "e2.txt", ["00000000"], [1 - fp_bits])
    samples = tmp_path / "samples"
    save_grid(np.stack([_first_uint8(g_fp)] * 4), samples / "step000005.png")
    gans = [
        {"name": "G-fp", "variant": "fingerprinted", "images": g_fp, "subdir": "a/fp", "samples_dir": samples},
        {"name": "G-cl", "variant": "clean", "images": g_cl, "subdir": "a/clean", "samples_dir": None},
    ]
    fps = {
        "fingerprinted": {"embedded": tmp_path / "e1.txt", "seed": 1},
        "fp-x": {"embedded": tmp_path / "e2.txt", "seed": 2},
    }
    out = tmp_path / "out"
    m = detect_dataset(
        "d",
        tmp_path / "decoder.pth",
        real,
        gans,
        fps,
        DetectFingerprintsCfg(batch_size=4, target_fpr=0.2),
        out,
        tmp_path / "registry.csv",
        tmp_path / "by_step.csv",
        grid_images=4,
    )
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt")) == [
        "a/clean/detected_fingerprints.txt",
        "a/fp/detected_fingerprints.txt",
        "real/detected_fingerprints.txt",
    ]
    detected = read_fingerprint_file(out / "a/fp/detected_fingerprints.txt")
    assert bits_to_str(detected["00000000"]) == bits_to_str(fp_bits)
    reg = read_registry(tmp_path / "registry.csv")
    assert [(r["fingerprint"], r["bits"], r["models"]) for r in reg] == [
        ("fingerprinted", bits_to_str(fp_bits), ["G-fp"]),
        ("fp-x", bits_to_str(1 - fp_bits), []),
    ]
    assert m["registered"] == ["fingerprinted", "fp-x"]
    assert (m["calibration_images"], m["fpr_images"]) == (8, 8)  # 10 real + 6 clean-GAN images, alternately
    assert m["sets"]["G-fp"]["scored_against"] == "fingerprinted"
    assert m["sets"]["G-cl"]["scored_against"] == "fingerprinted"  # the control
    acc0 = float(np.mean(detected["00000000"].numpy() == fp_bits))
    assert acc0 == 1.0
    lines = (tmp_path / "by_step.csv").read_text().splitlines()
    assert lines == ["step,G-fp", "5,1.000000"]  # every tile of the grid is that first sample
    json.dumps(m)  # the metrics are JSON


def _first_uint8(store):
    from ganprint.data.store import ImageStore

    with ImageStore(store) as s:
        return s.read([0])[0]


def _first(store):
    return torch.from_numpy(_first_uint8(store)).permute(2, 0, 1)[None].float() / 255
