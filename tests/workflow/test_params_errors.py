"""A wrong key, type or value in params.yaml stops both front-ends before any job runs, naming the key."""

from __future__ import annotations

from conftest import make_project, run, tiny_params, write_params


def _bad(tmp_path, mutate):
    proj = make_project(tmp_path / "p")  # dvc.yaml rendered for the good tiny grid, then the params go bad
    params = tiny_params()
    mutate(params)
    write_params(proj / "params.yaml", params)
    return proj


def test_snakemake_refuses_unknown_key(tmp_path):
    proj = _bad(tmp_path, lambda p: p["train_gan"].update(stepz=3))
    r = run(["snakemake", "-n", "--cores", "1"], proj, check=False)
    assert r.returncode != 0
    assert "train_gan: unknown key 'stepz' (did you mean 'steps'?)" in r.stderr + r.stdout


def test_snakemake_refuses_wrong_type_and_range(tmp_path):
    proj = _bad(tmp_path, lambda p: p["train_classifier"].update(epochs="four"))
    r = run(["snakemake", "-n", "--cores", "1"], proj, check=False)
    assert r.returncode != 0 and "train_classifier.epochs: expected int, got 'four'" in r.stderr + r.stdout
    write_params(proj / "params.yaml", tiny_params() | {"prepare_dataset": {"resize_filter": "cubic"}})
    r = run(["snakemake", "-n", "--cores", "1"], proj, check=False)
    out = r.stderr + r.stdout
    assert r.returncode != 0 and "allowed values: lanczos, bicubic, bilinear, box, nearest" in out


def test_dvc_repro_stops_at_first_stage_without_writing(tmp_path):
    proj = _bad(tmp_path, lambda p: p["datasets"]["skimage"].update(resolution=48))
    r = run(["dvc", "repro"], proj, check=False)
    assert r.returncode != 0
    assert "datasets.skimage.resolution: 48 must be a power of two" in r.stderr + r.stdout
    assert not (proj / "data" / "clean").exists() or not any((proj / "data" / "clean").rglob("images.lmdb"))
