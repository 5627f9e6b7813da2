"""ganprint.io (atomic output, deterministic JSON, seeding) and ganprint.checkpoint (safe load, kinds)."""

from __future__ import annotations

import os
import pickle
import platform
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import ganprint
from ganprint.checkpoint import CheckpointError, build_from_checkpoint, load_checkpoint, save_checkpoint
from ganprint.io import atomic_path, read_json, seed_everything, write_json, write_text
from ganprint.nets import GENERATORS
from ganprint.nets.dcgan import DCGANGenerator

# -- atomic_path -------------------------------------------------------------------------------------------


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "deep" / "er" / "out.txt"  # parents are created
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.startswith(".out.txt.tmp-")
        assert tmp.exists() and not target.exists()
        tmp.write_text("hello")
    assert target.read_text() == "hello"
    assert os.listdir(target.parent) == ["out.txt"]


def test_atomic_path_failure_keeps_the_old_file_and_leaves_no_tmp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(ValueError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half-written")
            raise ValueError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_path_block_may_remove_the_tmp(tmp_path):
    # a writer that creates the file itself (as LMDB does) may unlink the placeholder first
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "x") as tmp:
            tmp.unlink()
    assert os.listdir(tmp_path) == []


def test_write_text(tmp_path):
    write_text(tmp_path / "a" / "b.txt", "ü\n")
    assert (tmp_path / "a" / "b.txt").read_bytes() == "ü\n".encode()


# -- JSON --------------------------------------------------------------------------------------------------


def test_write_json_is_deterministic_and_sorted(tmp_path):
    a = {"b": 1, "a": [1, 2], "c": {"z": 1.5, "y": None}}
    b = {"c": {"y": None, "z": 1.5}, "a": [1, 2], "b": 1}  # same content, other insertion order
    write_json(tmp_path / "a.json", a)
    write_json(tmp_path / "b.json", b)
    text = (tmp_path / "a.json").read_text()
    assert text == (tmp_path / "b.json").read_text()
    assert text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1,\n  "c": {\n    "y": null,\n    "z": 1.5\n  }\n}\n'
    assert read_json(tmp_path / "a.json") == a


def test_write_json_numpy_and_paths(tmp_path):
    obj = {"i": np.int64(3), "f": np.float32(0.5), "arr": np.arange(3), "p": Path("x/y")}
    write_json(tmp_path / "o.json", obj)
    assert read_json(tmp_path / "o.json") == {"i": 3, "f": 0.5, "arr": [0, 1, 2], "p": "x/y"}


def test_write_json_refuses_unknown_types_and_leaves_no_file(tmp_path):
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_json(tmp_path / "o.json", {"x": object()})
    assert os.listdir(tmp_path) == []


def test_seed_everything_seeds_python_numpy_and_torch():
    def draws(seed):
        seed_everything(seed)
        return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()

    a = draws(7)
    assert draws(7) == a
    # the same draws as seeding each library by hand
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert a == (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    other = draws(8)
    assert all(x != y for x, y in zip(a, other, strict=True))


# -- checkpoints -------------------------------------------------------------------------------------------


def _gen(seed: int = 0) -> DCGANGenerator:
    torch.manual_seed(seed)
    return DCGANGenerator(resolution=16, z_dim=4, width=4)


def test_save_load_round_trip(tmp_path):
    g = _gen()
    path = tmp_path / "models" / "G.pt"
    save_checkpoint(path, kind="gan_generator", model=g, model_name="dcgan", gan={"seed": 0}, note="x")
    assert os.listdir(path.parent) == ["G.pt"]
    ckpt = load_checkpoint(path, "gan_generator")
    assert ckpt["kind"] == "gan_generator"
    assert ckpt["model_name"] == "dcgan"
    assert ckpt["model_args"] == {"resolution": 16, "z_dim": 4, "width": 4}
    assert ckpt["gan"] == {"seed": 0} and ckpt["note"] == "x"
    assert ckpt["versions"] == {
        "ganprint": ganprint.__version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    assert ckpt["state_dict"].keys() == g.state_dict().keys()
    for k, v in g.state_dict().items():
        assert torch.equal(ckpt["state_dict"][k], v), k
    # loads with weights_only=True by torch itself, i.e. no pickled code inside
    torch.load(path, map_location="cpu", weights_only=True)
    g2 = build_from_checkpoint(ckpt, GENERATORS)
    assert not g2.training
    z = torch.randn(3, 4)
    g.eval()
    assert torch.equal(g(z), g2(z))


def test_same_model_same_bytes(tmp_path):
    # the zip archive inside a .pt file is named after the file, so compare the same name in three dirs;
    # the random tmp suffix of atomic_path must not leak into the bytes
    for d, seed in (("a", 1), ("b", 1), ("c", 2)):
        save_checkpoint(tmp_path / d / "G.pt", kind="k", model=_gen(seed), model_name="dcgan")
    assert (tmp_path / "a/G.pt").read_bytes() == (tmp_path / "b/G.pt").read_bytes()
    assert (tmp_path / "a/G.pt").read_bytes() != (tmp_path / "c/G.pt").read_bytes()


def test_wrong_kind_refused(tmp_path):
    path = tmp_path / "G.pt"
    save_checkpoint(path, kind="gan_generator", model=_gen(), model_name="dcgan")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, "fingerprint_decoder")
    assert str(e.value) == f"{path}: expected a fingerprint_decoder checkpoint, got 'gan_generator'"


def test_non_dict_checkpoint_refused(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(2), path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, "gan_generator")
    assert str(e.value) == f"{path}: expected a gan_generator checkpoint, got 'Tensor'"


def test_garbage_file_refused(tmp_path):
    path = tmp_path / "G.pt"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, "gan_generator")
    assert str(e.value).startswith(f"{path}: not a ganprint checkpoint that loads safely (")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_code_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"kind": "gan_generator", "x": _Evil()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="not a ganprint checkpoint that loads safely"):
        load_checkpoint(path, "gan_generator")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "G.pt", "gan_generator")
    assert str(e.value) == f"{tmp_path / 'G.pt'}: checkpoint not found; run the stage that trains it first"
    assert issubclass(CheckpointError, RuntimeError)
