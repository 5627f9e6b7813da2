"""ganprint.stages: each stage declared once, read by the Snakefile and rendered into dvc.yaml.

For the committed params.yaml: the jobs of every stage, the targets of ``rule all``, the same command in both
front-ends, the committed dvc.yaml is current and has the promised shape, and growing the grid by one GAN, method
or protocol adds exactly the jobs it feeds.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO
from pydantic import Field

import ganprint
from ganprint import paths, registry
from ganprint.cli import render_dvc as render_dvc_cli
from ganprint.config import load_params, lookup, parse_params, tracked_values
from ganprint.hparams import Section
from ganprint.stages import (
    ARCH_MODULE,
    METHOD_MODULES,
    STAGES,
    all_targets,
    dvc_command,
    expand,
    render_dvc,
    snakemake_shell,
    tracked_params,
)

GANS = [  # params.yaml's groups in order: seeds, progan, sngan, mmdgan, mimicry, stylegan2, fingerprinted, ...
    "skimage-dcgan-nonsat-clean-seed0",
    "skimage-dcgan-nonsat-clean-seed1",
    "skimage-dcgan-nonsat-clean-seed2",
    "skimage-dcgan-nonsat-clean-seed3",
    "skimage-progan-wgangp-clean-seed0",
    "skimage-sngan-hinge-clean-seed0",
    "skimage-mmdgan-cramer-clean-seed0",
    "skimage-mmdgan-mmd-clean-seed0",
    "skimage-mimicry-infomax-clean-seed0",
    "skimage-mimicry-ssgan-clean-seed0",
    "skimage-stylegan2-nonsat-clean-seed0",
    "skimage-dcgan-nonsat-fingerprinted-seed0",  # 11
    "skimage-dcgan-nonsat-fp-owner2-seed0",  # 12
    "skimage-stylegan2-nonsat-fingerprinted-seed0",  # 13
    "skimage-dcgan-nonsat-ft-sklearn-seed0",  # 14: fine-tuned, not trained
]
FINGERPRINTED = GANS[11:14]
METHODS = ["postpool", "gandct", "knn", "prnu", "visnet", "classmodel", "dnadet"]
GROUPS = [
    "seeds",
    "progan",
    "sngan",
    "mmdgan",
    "mimicry",
    "stylegan2",
    "fingerprinted",
    "fingerprinted_stylegan2",
    "finetuned",
]
JOBS = {
    "prepare_dataset": 2,
    "train_fingerprint_autoencoder": 1,
    "embed_fingerprints": 2,  # skimage × the fingerprints fingerprinted and fp-owner2
    "train_gan": 14,  # every GAN but the fine-tuned one
    "finetune_gan": 1,  # skimage-dcgan-nonsat-ft-sklearn-seed0
    "generate_images": 15,
    "fid_stats": 2,
    "evaluate_gan": 15,
    "detect_fingerprints": 1,  # once per autoencoders dataset, over its real images and all of its GANs
    "fingerprint_robustness": 3,  # the GANs trained on fingerprinted data: dcgan × 2 owners, stylegan2
    "build_split": 2,
    "train_classifier": 14,  # 2 protocols × 7 methods
    "evaluate_attribution": 14,
    "interpret_attribution": 14,
    "make_tables": 1,
}
PARAMS_KEYS = {
    "prepare_dataset": ["prepare_dataset", "datasets.{dataset}"],
    "train_fingerprint_autoencoder": ["train_fingerprint_autoencoder"],
    "embed_fingerprints": ["embed_fingerprints", "fingerprints.{variant}"],
    "train_gan": ["train_gan", "archs.{arch}", "losses.{loss}"],
    "finetune_gan": ["finetune_gan", "train_gan", "archs.{arch}", "losses.{loss}"],
    "generate_images": ["generate_images", "prepare_dataset.grid_images"],
    "fid_stats": ["fid.num_real", "fid.batch_size", "fid.kid_max_real", "fid.resize"],
    "evaluate_gan": ["fid"],
    "detect_fingerprints": [
        "detect_fingerprints",
        "fingerprints",
        "gans",
        "embed_fingerprints.identical",
        "train_gan.grid_images",
    ],
    "fingerprint_robustness": [
        "fingerprint_robustness",
        "generate_images.seed",
        "train_gan",
        "archs.{arch}",
        "losses.{loss}",
    ],
    "build_split": ["build_split", "protocols.{protocol}"],
    "train_classifier": [
        "train_classifier",
        "methods.{method}",
        "loader",
        "evaluate_attribution.open_set_tpr",
        "evaluate_attribution.open_set_score",
    ],
    "evaluate_attribution": ["evaluate_attribution", "loader"],
    "interpret_attribution": ["interpret_attribution", "loader"],
    "make_tables": ["make_tables", "datasets", "gans", "autoencoders", "fingerprints", "protocols", "attribution"],
}
GAN_WILDCARDS = ["dataset", "arch", "loss", "variant", "seed"]
PROTOCOLS = ("closed_set", "cross_seed")


def _defaults():
    return load_params(REPO / "params.yaml")


def _default_data() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def _jobs(params) -> dict[str, list[dict]]:
    return {name: expand(st, params) for name, st in STAGES.items()}


def _dvc() -> dict:
    return yaml.safe_load(render_dvc(_defaults()))["stages"]


def _item(text: str, wildcards: dict) -> str:
    """DVC's ``${item.x}`` filled with one job's wildcards."""
    return re.sub(r"\$\{item\.(\w+)\}", lambda m: str(wildcards[m.group(1)]), text)


# == the declarations =================================================================================================


def test_stage_order_and_cli_names():
    assert list(STAGES) == list(JOBS)
    assert {n: st.cli for n, st in STAGES.items()} == {n: n.replace("_", "-") for n in JOBS}
    from ganprint.cli.main import STAGES as CLI_STAGES

    assert list(CLI_STAGES.values()) == [
        "prepare_dataset",
        "train_gan",
        "finetune_gan",
        "generate_images",
        "fid_stats",
        "evaluate_gan",
        "train_fingerprint_autoencoder",
        "embed_fingerprints",
        "detect_fingerprints",
        "fingerprint_robustness",
        "build_split",
        "train_classifier",
        "evaluate_attribution",
        "interpret_attribution",
        "make_tables",
        "make_figures",
        "make_report",
    ]
    assert set(CLI_STAGES.values()) == set(STAGES)


def test_wildcards_and_job_ids():
    assert {n: list(st.wildcards) for n, st in STAGES.items()} == {
        "prepare_dataset": ["dataset"],
        "train_fingerprint_autoencoder": ["dataset"],
        "embed_fingerprints": ["dataset", "variant"],
        "train_gan": GAN_WILDCARDS,
        "finetune_gan": GAN_WILDCARDS,
        "generate_images": GAN_WILDCARDS,
        "fid_stats": ["dataset"],
        "evaluate_gan": GAN_WILDCARDS,
        "detect_fingerprints": ["dataset"],
        "fingerprint_robustness": GAN_WILDCARDS,
        "build_split": ["protocol"],
        "train_classifier": ["protocol", "method"],
        "evaluate_attribution": ["protocol", "method"],
        "interpret_attribution": ["protocol", "method"],
        "make_tables": [],
    }
    assert STAGES["train_gan"].job == "{dataset}-{arch}-{loss}-{variant}-seed{seed}"
    assert STAGES["train_gan"].log == "results/logs/train_gan/{dataset}-{arch}-{loss}-{variant}-seed{seed}.log"
    assert STAGES["train_classifier"].benchmark == "results/benchmarks/train_classifier/{protocol}-{method}.tsv"
    assert STAGES["make_tables"].log == "results/logs/make_tables/all.log"


def test_params_keys_per_stage():
    assert {n: list(st.params) for n, st in STAGES.items()} == PARAMS_KEYS


def test_every_module_file_exists_for_every_job():
    p = _defaults()
    for name, st in STAGES.items():
        assert st.module_files[0] == f"src/ganprint/cli/{name}.py"
        for w in expand(st, p):
            for f in st.job_modules(w):
                assert (REPO / f).is_file(), (name, f)


def test_gan_stages_depend_on_their_arch_module_only():
    for name in ("train_gan", "generate_images"):
        nets_files = [m for m in STAGES[name].module_files if m.startswith("src/ganprint/nets/") or m == ARCH_MODULE]
        assert nets_files == [ARCH_MODULE, "src/ganprint/nets/layers.py"], name
        # resolved per job from the registry: mimicry's networks live in nets/sngan.py
        w = {"dataset": "d", "arch": "mimicry", "loss": "hinge", "variant": "clean", "seed": 0}
        assert "src/ganprint/nets/sngan.py" in STAGES[name].job_modules(w)
        assert "src/ganprint/nets/mimicry.py" not in STAGES[name].job_modules(w)


ATTRIBUTION_STAGES = ("train_classifier", "evaluate_attribution", "interpret_attribution")


@pytest.mark.parametrize("name", ATTRIBUTION_STAGES)
def test_attribution_jobs_depend_on_their_method_modules_only(name):
    files = STAGES[name].module_files
    assert METHOD_MODULES in files and "src/ganprint/attribution/methods/base.py" in files
    assert [m for m in files if m.startswith("src/ganprint/nets/")] == ["src/ganprint/nets/layers.py"]
    shared = [m for m in files if m != METHOD_MODULES]
    for method in registry.METHODS:
        job = STAGES[name].job_modules({"protocol": "p", "method": method})
        assert job == [m for f in files for m in (registry.method_modules(method) if f == METHOD_MODULES else [f])]
        assert [m for m in job if m not in shared] == list(registry.method_modules(method)), method
    job = STAGES[name].job_modules({"protocol": "p", "method": "gandct"})
    assert "src/ganprint/nets/gandct.py" in job and "src/ganprint/nets/postpool.py" not in job
    assert "src/ganprint/perturb.py" not in job
    assert "src/ganprint/perturb.py" in STAGES[name].job_modules({"protocol": "p", "method": "dnadet"})


# == jobs and targets for the committed params.yaml ===================================================================


def test_job_counts():
    assert {n: len(j) for n, j in _jobs(_defaults()).items()} == JOBS


def test_jobs_exactly():
    p = _defaults()
    jobs = _jobs(p)
    sel = [p.gan_list[g].selectors() for g in GANS]
    assert jobs["prepare_dataset"] == [{"dataset": "skimage"}, {"dataset": "sklearn"}]
    assert jobs["train_fingerprint_autoencoder"] == [{"dataset": "skimage"}]
    assert jobs["embed_fingerprints"] == [
        {"dataset": "skimage", "variant": "fingerprinted"},
        {"dataset": "skimage", "variant": "fp-owner2"},
    ]
    assert jobs["generate_images"] == jobs["evaluate_gan"] == sel
    assert jobs["train_gan"] == sel[:14]
    assert jobs["finetune_gan"] == [sel[14]]
    assert sel[14] == {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "ft-sklearn", "seed": 0}
    assert jobs["fingerprint_robustness"] == [p.gan_list[g].selectors() for g in FINGERPRINTED]
    assert jobs["fid_stats"] == [{"dataset": "skimage"}, {"dataset": "sklearn"}]
    assert jobs["detect_fingerprints"] == [{"dataset": "skimage"}]
    assert sel[11] == {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "fingerprinted", "seed": 0}
    assert sel[12] == {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "fp-owner2", "seed": 0}
    assert sel[13] == sel[11] | {"arch": "stylegan2"}
    assert jobs["build_split"] == [{"protocol": "closed_set"}, {"protocol": "cross_seed"}]
    assert (
        jobs["train_classifier"]
        == jobs["evaluate_attribution"]
        == jobs["interpret_attribution"]
        == [{"protocol": pr, "method": m} for pr in ("closed_set", "cross_seed") for m in METHODS]
    )
    assert jobs["make_tables"] == [{}]


def test_all_targets_are_every_output_of_every_job():
    p = _defaults()
    targets = all_targets(p)
    assert len(targets) == len(set(targets)) == sum(len(STAGES[n].outputs) * k for n, k in JOBS.items())
    for name, st in STAGES.items():
        for w in expand(st, p):
            for out in st.outputs.values():
                assert out.format(**w) in targets, (name, out)
    for t in (
        "data/clean/sklearn/images.lmdb",
        "data/fingerprinted/skimage/embedded_fingerprints.txt",
        "results/models/fingerprint/skimage/decoder.pt",
        "results/models/gan/skimage/dcgan/nonsat/fingerprinted/seed0/G.pt",
        "results/samples/skimage/dcgan/nonsat/clean/seed3/images.lmdb",
        "results/metrics/detect_fingerprints/skimage.json",
        "results/fingerprints/skimage",
        "results/fingerprint_attribution/skimage/registry.csv",
        "data/fp-owner2/skimage/embedded_fingerprints.txt",
        "results/fid/skimage/real_stats.pt",
        "results/fid/sklearn/real_stats.pt",
        "results/metrics/gan/skimage-dcgan-nonsat-clean-seed0.json",
        "results/metrics/gan/skimage-dcgan-nonsat-fingerprinted-seed0.json",
        "results/splits/closed_set.csv",
        "results/metrics/build_split/cross_seed.json",
        "results/models/classifier/cross_seed/postpool/model.pt",
        "results/predictions/closed_set/postpool.csv",
        "results/metrics/evaluate_attribution/cross_seed/postpool.json",
        "results/figures/attribution/closed_set/postpool/cam.png",
        "results/figures/attribution/cross_seed/postpool/tsne.png",
        "results/figures/attribution/cross_seed/postpool/fingerprints.png",
        "results/figures/attribution/closed_set/postpool/interpret.json",
        "results/models/gan/skimage/dcgan/nonsat/ft-sklearn/seed0/G.pt",
        "results/samples/skimage/stylegan2/nonsat/fingerprinted/seed0/images.lmdb",
        "results/metrics/gan/skimage-mmdgan-cramer-clean-seed0.json",
        "results/models/classifier/closed_set/dnadet/model.pt",
        "results/metrics/evaluate_attribution/cross_seed/knn.json",
        "results/tables/gans.csv",
        "results/tables/gans.md",
        *paths.TABLE_FILES,
    ):
        assert t in targets, t
    assert "data/fingerprinted/sklearn/images.lmdb" not in targets  # sklearn has no autoencoder


def test_every_input_is_an_earlier_stages_output():
    p = _defaults()
    made: set[str] = set()
    for name, st in STAGES.items():
        for w in expand(st, p):
            needed = [i.format(**w) for i in st.inputs.values()]
            if st.dynamic_inputs:
                needed += st.dynamic_inputs(p, w)
            # the FID of evaluate_gan (the GAN zoo) when that stage is declared
            missing = [i for i in needed if i not in made and not ("evaluate_gan" not in STAGES and "/gan/" in i)]
            assert not missing, (name, w, missing)
        made.update(out.format(**w) for w in expand(st, p) for out in st.outputs.values())


def test_dynamic_inputs():
    p = _defaults()
    assert STAGES["build_split"].dynamic_inputs(p, {"protocol": "cross_seed"}) == [  # train + test, incl. unknown
        "data/clean/skimage/manifest.csv",
        *[f"results/samples/skimage/dcgan/nonsat/clean/seed{s}/manifest.csv" for s in range(4)],
        "results/samples/skimage/mimicry/ssgan/clean/seed0/manifest.csv",
        "results/samples/skimage/stylegan2/nonsat/clean/seed0/manifest.csv",
    ]
    assert STAGES["build_split"].dynamic_inputs(p, {"protocol": "closed_set"}) == [
        "data/clean/skimage/manifest.csv",
        "results/samples/skimage/mmdgan/cramer/clean/seed0/manifest.csv",
        "results/samples/skimage/mmdgan/mmd/clean/seed0/manifest.csv",
        "results/samples/skimage/progan/wgangp/clean/seed0/manifest.csv",
        "results/samples/skimage/sngan/hinge/clean/seed0/manifest.csv",
    ]
    tables = STAGES["make_tables"].dynamic_inputs(p, {})
    assert tables == [
        "results/metrics/train_fingerprint_autoencoder/skimage.json",
        "results/metrics/embed_fingerprints/fingerprinted/skimage.json",
        "results/metrics/embed_fingerprints/fp-owner2/skimage.json",
        "results/metrics/detect_fingerprints/skimage.json",
        *[f"results/metrics/gan/{g}.json" for g in GANS],  # the GAN-zoo table: FID/KID of every GAN
        *[f"results/metrics/evaluate_attribution/{pr}/{m}.json" for pr in PROTOCOLS for m in METHODS],
    ]
    assert STAGES["detect_fingerprints"].dynamic_inputs(p, {"dataset": "skimage"}) == [
        "data/fingerprinted/skimage/embedded_fingerprints.txt",
        "data/fp-owner2/skimage/embedded_fingerprints.txt",
        *[
            f
            for g in GANS
            for f in (
                paths.SAMPLES_IMAGES.format(**p.gan_list[g].selectors()),
                paths.GAN_MODEL.format(**p.gan_list[g].selectors()),
            )
        ],
    ]


def test_tracked_params_per_job():
    p = _defaults()
    w = p.gan_list[GANS[0]].selectors()
    assert tracked_params(STAGES["train_gan"], p, w) == tracked_values(p, ["train_gan", "archs.dcgan", "losses.nonsat"])
    assert json.loads(
        tracked_params(STAGES["train_classifier"], p, {"protocol": "cross_seed", "method": "postpool"})
    ) == {
        "train_classifier": {"epochs": 3, "batch_size": 16, "seed": 0},
        "methods.postpool": lookup(p, "methods.postpool"),
        "loader": {"workers": 0, "memory_budget_mb": 512},
        "evaluate_attribution.open_set_tpr": 0.95,  # the checkpoint stores the threshold calibrated on val
        "evaluate_attribution.open_set_score": "msp",
    }
    assert json.loads(tracked_params(STAGES["build_split"], p, {"protocol": "cross_seed"})) == {
        "build_split": {"train_per_class": 400, "val_per_class": 100, "test_per_class": 200},
        "protocols.cross_seed": lookup(p, "protocols.cross_seed"),
    }
    assert tracked_params(STAGES["make_tables"], p, {}) == tracked_values(p, PARAMS_KEYS["make_tables"])
    w = p.gan_list["skimage-progan-wgangp-clean-seed0"].selectors()
    assert json.loads(tracked_params(STAGES["train_gan"], p, w)) == {
        "train_gan": lookup(p, "train_gan"),
        "archs.progan": lookup(p, "archs.progan"),
        "losses.wgangp": {"gp_weight": 10.0, "gp_target": 1.0, "drift": 0.001},
    }
    w = p.gan_list["skimage-dcgan-nonsat-ft-sklearn-seed0"].selectors()
    assert json.loads(tracked_params(STAGES["finetune_gan"], p, w)) == {
        "finetune_gan": {"steps": 100},
        "train_gan": lookup(p, "train_gan"),
        "archs.dcgan": lookup(p, "archs.dcgan"),
        "losses.nonsat": {},
    }


# == one command for both front-ends ==================================================================================


def _snakemake_job_command(st, w: dict) -> str:
    ns = SimpleNamespace
    return snakemake_shell(st).format(
        params=ns(file="params.yaml"),
        wildcards=ns(**w),
        input=ns(**{k: v.format(**w) for k, v in st.inputs.items()}),
        output=ns(**{k: v.format(**w) for k, v in st.outputs.items()}),
        log=st.log.format(**w),
    )


@pytest.mark.parametrize("name", list(STAGES))
def test_snakemake_and_dvc_run_the_same_command(name):
    st = STAGES[name]
    p = _defaults()
    shell, cmd = snakemake_shell(st), dvc_command(st)
    assert shell.startswith(f"ganprint {st.cli} --params {{params.file}} ")
    assert cmd.startswith(f"ganprint {st.cli} --params params.yaml ")
    assert "{params_file}" not in shell and "{" not in cmd.replace("${item.", "")
    for w in expand(st, p):
        assert _snakemake_job_command(st, w) == _item(cmd, w)


def test_the_command_of_one_job_exactly():
    st = STAGES["train_classifier"]
    w = {"protocol": "closed_set", "method": "postpool"}
    assert _item(dvc_command(st), w) == (
        "ganprint train-classifier --params params.yaml --protocol closed_set --method postpool "
        "--split results/splits/closed_set.csv --out results/models/classifier/closed_set/postpool "
        "--metrics results/metrics/train_classifier/closed_set/postpool.json "
        "--log results/logs/train_classifier/closed_set-postpool.log"
    )
    assert snakemake_shell(STAGES["build_split"]) == (
        "ganprint build-split --params {params.file} --protocol {wildcards.protocol} --out {output.split} "
        "--metrics {output.metrics} --log {log}"
    )


# == dvc.yaml =========================================================================================================


def test_committed_dvc_yaml_is_current():
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == render_dvc(_defaults())


def test_render_dvc_check_cli(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(REPO)
    assert render_dvc_cli.main(["--check"]) == 0
    assert capsys.readouterr().out == "dvc.yaml: up to date\n"
    stale = tmp_path / "dvc.yaml"
    stale.write_text(render_dvc(_defaults()).replace("persist: true", "persist: false", 1), encoding="utf-8")
    assert render_dvc_cli.main(["--check", "--out", str(stale)]) == 2
    err = capsys.readouterr().err
    assert f"{stale} is stale: run `ganprint render-dvc` and commit it" in err
    assert f"error: {stale} differs from the stage declarations and params.yaml" in err
    missing = tmp_path / "nope.yaml"
    assert render_dvc_cli.main(["--check", "--out", str(missing)]) == 2
    assert render_dvc_cli.main(["--out", str(missing)]) == 0
    assert missing.read_text(encoding="utf-8") == (REPO / "dvc.yaml").read_text(encoding="utf-8")


def test_dvc_stage_definitions_and_matrices():
    dvc = _dvc()
    trained = GROUPS[:-1]  # the finetuned group is made by finetune_gan
    assert list(dvc) == [
        "prepare_dataset",
        "train_fingerprint_autoencoder",
        "embed_fingerprints",
        *(f"train_gan.{g}" for g in trained),
        "finetune_gan.finetuned",
        *(f"generate_images.{g}" for g in GROUPS),
        "fid_stats",
        *(f"evaluate_gan.{g}" for g in GROUPS),
        "detect_fingerprints",
        "fingerprint_robustness.fingerprinted",  # only the GANs trained on fingerprinted data
        "fingerprint_robustness.fingerprinted_stylegan2",
        "build_split",
        *(f"train_classifier.{m}" for m in METHODS),
        *(f"evaluate_attribution.{m}" for m in METHODS),
        *(f"interpret_attribution.{m}" for m in METHODS),
        "make_tables",
    ]
    for group in ("fingerprinted", "fingerprinted_stylegan2"):
        assert dvc[f"fingerprint_robustness.{group}"]["matrix"] == {w: f"${{gans.{group}.{w}}}" for w in GAN_WILDCARDS}
    for stage, groups in (("train_gan", trained), ("finetune_gan", ["finetuned"])) + tuple(
        (s, GROUPS) for s in ("generate_images", "evaluate_gan")
    ):
        for group in groups:
            assert dvc[f"{stage}.{group}"]["matrix"] == {w: f"${{gans.{group}.{w}}}" for w in GAN_WILDCARDS}
            assert list(dvc[f"{stage}.{group}"]["matrix"]) == GAN_WILDCARDS
    assert dvc["prepare_dataset"]["matrix"] == dvc["fid_stats"]["matrix"] == {"dataset": "${datasets}"}
    assert dvc["train_fingerprint_autoencoder"]["matrix"] == {"dataset": "${autoencoders}"}
    assert dvc["embed_fingerprints"]["matrix"] == {"dataset": "${autoencoders}", "variant": "${fingerprints}"}
    assert dvc["detect_fingerprints"]["matrix"] == {"dataset": "${autoencoders}"}
    assert dvc["build_split"]["matrix"] == {"protocol": "${attribution.protocols}"}
    for stage in ATTRIBUTION_STAGES:  # one definition per method, a matrix over the protocols
        for m in METHODS:
            assert dvc[f"{stage}.{m}"]["matrix"] == {"protocol": "${attribution.protocols}"}
    assert "matrix" not in dvc["make_tables"]
    for name, d in dvc.items():
        assert list(d) == [*(["matrix"] if "matrix" in d else []), "cmd", "deps", "params", "outs"] + (
            ["metrics"] if "metrics" in d else []
        ) + (["plots"] if "plots" in d else []), name
    assert [n for n, d in dvc.items() if "plots" in d] == [
        "train_fingerprint_autoencoder",
        *(f"train_gan.{g}" for g in trained),
        "finetune_gan.finetuned",
        "detect_fingerprints",
        "fingerprint_robustness.fingerprinted",
        "fingerprint_robustness.fingerprinted_stylegan2",
    ]


def _fixed(name: str) -> dict | None:
    """The wildcards a DVC definition fixes: ``<stage>.<method>`` of an attribution stage fixes its method."""
    stage, _, suffix = name.partition(".")
    return {"method": suffix} if "method" in STAGES[stage].wildcards else None


def test_dvc_commands_are_the_declared_ones():
    dvc = _dvc()
    for name, d in dvc.items():
        assert d["cmd"] == dvc_command(STAGES[name.split(".")[0]], _fixed(name)), name
    assert dvc["train_classifier.postpool"]["cmd"] == (
        "ganprint train-classifier --params params.yaml --protocol ${item.protocol} --method postpool "
        "--split results/splits/${item.protocol}.csv --out results/models/classifier/${item.protocol}/postpool "
        "--metrics results/metrics/train_classifier/${item.protocol}/postpool.json "
        "--log results/logs/train_classifier/${item.protocol}-postpool.log"
    )


def test_dvc_outputs_persist_and_metrics_stay_in_git():
    dvc = _dvc()
    for name, d in dvc.items():
        st = STAGES[name.split(".")[0]]
        for entry in d["outs"]:
            ((path, opts),) = entry.items()
            assert opts["persist"] is True, (name, path)
            assert opts == ({"persist": True, "cache": False} if path.startswith(paths.TABLES) else {"persist": True})
        for entry in d.get("metrics", []):
            ((path, opts),) = entry.items()
            assert opts == {"persist": True, "cache": False}, (name, path)
            assert path.startswith("results/metrics/")
        for entry in d.get("plots", []):
            ((path, opts),) = entry.items()
            # x: training step, or the strength of a robustness curve; cached by DVC: results/* is ignored
            x = "strength" if st.name == "fingerprint_robustness" else "step"
            assert opts == {"persist": True, "x": x}, (name, path)
            ends = ("/loss_curves.csv", "/curves.csv", "/bit_accuracy_by_step.csv")
            assert path.endswith("/bit_accuracy.csv" if x == "strength" else ends)
        declared = [re.sub(r"\{(\w+)\}", r"${item.\1}", o.format_map(_Keep(_fixed(name)))) for o in st.outputs.values()]
        listed = d["outs"] + d.get("metrics", []) + d.get("plots", [])
        assert sorted(next(iter(e)) for e in listed) == sorted(declared), name


class _Keep(dict):
    """format_map filler: the fixed wildcards' values, every other ``{w}`` left as it is."""

    def __init__(self, fixed: dict | None):
        super().__init__(fixed or {})

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def test_dvc_params_are_the_declared_keys():
    dvc = _dvc()
    for name, d in dvc.items():
        declared = [k.format_map(_Keep(_fixed(name))) for k in PARAMS_KEYS[name.split(".")[0]]]
        assert d["params"] == [re.sub(r"\{(\w+)\}", r"${item.\1}", k) for k in declared], name
    assert dvc["train_gan.seeds"]["params"] == ["train_gan", "archs.${item.arch}", "losses.${item.loss}"]
    assert dvc["train_classifier.postpool"]["params"] == [
        "train_classifier",
        "methods.postpool",
        "loader",
        "evaluate_attribution.open_set_tpr",
        "evaluate_attribution.open_set_score",
    ]


def test_train_gan_deps():
    for group in ("seeds", "fingerprinted"):
        deps = _dvc()[f"train_gan.{group}"]["deps"]
        assert deps == [
            "src/ganprint/cli/train_gan.py",
            "src/ganprint/train/gan.py",
            "src/ganprint/train/common.py",
            "src/ganprint/nets/${item.arch}.py",
            "src/ganprint/nets/layers.py",
            "src/ganprint/losses.py",
            "data/${item.variant}/${item.dataset}/images.lmdb",
        ]
        nets = [d for d in deps if d.startswith("src/ganprint/nets/")]
        assert nets == ["src/ganprint/nets/${item.arch}.py", "src/ganprint/nets/layers.py"]


def test_attribution_deps_are_the_split_not_the_image_folders():
    dvc = _dvc()
    assert dvc["train_classifier.postpool"]["deps"] == [
        "src/ganprint/cli/train_classifier.py",
        "src/ganprint/attribution/train.py",
        "src/ganprint/attribution/splits.py",
        "src/ganprint/data/dataset.py",
        "src/ganprint/attribution/methods/postpool.py",
        "src/ganprint/nets/postpool.py",
        "src/ganprint/attribution/methods/base.py",
        "src/ganprint/attribution/inputs.py",
        "src/ganprint/nets/layers.py",
        "results/splits/${item.protocol}.csv",
    ]
    assert dvc["evaluate_attribution.postpool"]["deps"][-2:] == [
        "results/splits/${item.protocol}.csv",
        "results/models/classifier/${item.protocol}/postpool/model.pt",
    ]
    assert dvc["interpret_attribution.postpool"]["deps"][-3:] == [
        "results/splits/${item.protocol}.csv",
        "results/models/classifier/${item.protocol}/postpool/model.pt",
        "results/metrics/evaluate_attribution/${item.protocol}/postpool.json",
    ]
    for stage in ATTRIBUTION_STAGES:
        for folder in ("data/clean", "results/samples", "data", "results"):
            assert folder not in dvc[f"{stage}.postpool"]["deps"]
    assert dvc["build_split"]["deps"][-2:] == ["data/clean", "results/samples"]


def test_only_build_split_and_make_tables_depend_on_folders():
    dvc = _dvc()
    folders = {n: [x for x in d["deps"] if not re.search(r"\.\w+$", x)] for n, d in dvc.items()}
    assert {n: f for n, f in folders.items() if f} == {
        "build_split": ["data/clean", "results/samples"],
        # ft-<dataset> names the dataset inside the variant: a matrix cannot map it to data/clean/<dataset>/
        "finetune_gan.finetuned": ["data/clean"],
        # a dataset's GANs and fingerprints: the embed metrics carry each fingerprint, so they change with it
        "detect_fingerprints": ["results/metrics/embed_fingerprints", "results/samples", "results/models/gan"],
        "make_tables": [
            "results/metrics/train_fingerprint_autoencoder",
            "results/metrics/embed_fingerprints",
            "results/metrics/detect_fingerprints",
            "results/metrics/evaluate_attribution",
            "results/metrics/gan",
        ],
    }


def test_adding_a_gans_group_adds_its_definitions_and_a_seed_does_not():
    data = _default_data()
    data["gans"]["seeds"]["seed"].append(4)
    assert render_dvc(parse_params(data)) == render_dvc(_defaults())  # the matrix reads params.yaml
    data["gans"]["extra"] = {"dataset": ["skimage"], "arch": ["dcgan"], "loss": ["nonsat"], "seed": [9]}
    dvc = yaml.safe_load(render_dvc(parse_params(data)))["stages"]
    assert [n for n in dvc if n.endswith(".extra")] == [
        "train_gan.extra",
        "generate_images.extra",
        "evaluate_gan.extra",
    ]
    assert dvc["train_gan.extra"]["matrix"]["seed"] == "${gans.extra.seed}"


def test_dvc_deps_of_an_arch_whose_file_is_not_named_after_it():
    data = _default_data()
    dvc = yaml.safe_load(render_dvc(parse_params(data)))["stages"]
    assert "src/ganprint/nets/${item.arch}.py" in dvc["train_gan.seeds"]["deps"]
    # mimicry lives in nets/sngan.py: a matrix cannot map the name to the file, so the group lists its files
    data["gans"]["zoo"] = {
        "dataset": ["skimage"],
        "arch": ["sngan", "mimicry", "dcgan"],
        "loss": ["nonsat"],
        "seed": [7],
    }
    data["archs"].update({"sngan": {}, "mimicry": {}})
    dvc = yaml.safe_load(render_dvc(parse_params(data)))["stages"]
    for stage in ("train_gan.zoo", "generate_images.zoo"):
        nets = [d for d in dvc[stage]["deps"] if d.startswith("src/ganprint/nets/")]
        assert nets == ["src/ganprint/nets/dcgan.py", "src/ganprint/nets/sngan.py", "src/ganprint/nets/layers.py"]


# == growing the grid adds exactly the jobs it feeds ==================================================================


def _added(before, after) -> dict[str, list[dict]]:
    """Jobs of ``after`` not in ``before``, per stage (stages without new jobs left out); none may disappear."""
    out = {}
    for name in STAGES:
        b, a = before[name], after[name]
        assert [j for j in b if j not in a] == [], name
        new = [j for j in a if j not in b]
        if new:
            out[name] = new
    return out


def test_adding_a_seed_adds_three_jobs():
    data = _default_data()
    before = _jobs(parse_params(data))
    data["gans"]["seeds"]["seed"].append(4)
    after = _jobs(parse_params(data))
    gan = {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "clean", "seed": 4}
    # detect_fingerprints runs once per dataset: its skimage job reads the new GAN too (a dependency, not a job)
    assert _added(before, after) == {"train_gan": [gan], "generate_images": [gan], "evaluate_gan": [gan]}
    assert sum(map(len, after.values())) - sum(map(len, before.values())) == 3
    samples = paths.SAMPLES_IMAGES.format(**gan)
    assert samples in STAGES["detect_fingerprints"].dynamic_inputs(parse_params(data), {"dataset": "skimage"})


def test_adding_a_protocol_adds_a_split_a_classifier_and_an_evaluation():
    data = _default_data()
    before = _jobs(parse_params(data))
    data["protocols"]["real_vs_fake"] = {
        "train": {"real": ["real/skimage"], "fake": ["gan/skimage-dcgan-nonsat-fingerprinted-seed0"]}
    }
    data["attribution"]["protocols"].append("real_vs_fake")
    after = _jobs(parse_params(data))
    jobs = [{"protocol": "real_vs_fake", "method": m} for m in METHODS]  # one per attribution method
    assert _added(before, after) == {
        "build_split": [{"protocol": "real_vs_fake"}],
        "train_classifier": jobs,
        "evaluate_attribution": jobs,
        "interpret_attribution": jobs,
    }
    # a protocol that is defined but not listed in attribution runs nothing
    data["attribution"]["protocols"].remove("real_vs_fake")
    assert _jobs(parse_params(data)) == before


class ToyMethodHps(Section):
    temperature: float = Field(1.0, ge=0.0)


def _jobs_with_toy_method(data: dict) -> dict[str, list[dict]]:
    """Jobs of ``data`` under a fresh ganprint.config that knows the registered method 'toymethod'.

    The config builds its choices when imported, so the registration needs a new import; the monkeypatch puts
    the registry, sys.modules and the package attribute back (tests/unit/test_registry.py: fresh_config).
    """
    with pytest.MonkeyPatch.context() as mp:
        toy = registry.Method("ganprint.attribution.methods.toymethod:ToyMethod", ToyMethodHps)
        mp.setitem(registry.METHODS, "toymethod", toy)
        mp.setattr(ganprint, "config", sys.modules["ganprint.config"])
        mp.delitem(sys.modules, "ganprint.config")
        cfg = importlib.import_module("ganprint.config")
        return _jobs(cfg.parse_params(data))


def test_adding_a_method_adds_one_classifier_and_one_evaluation():
    data = _default_data()
    data["attribution"]["protocols"] = ["cross_seed"]
    before = _jobs(parse_params(data))
    data["attribution"]["methods"].append("toymethod")
    data["methods"]["toymethod"] = {"temperature": 0.5}
    job = {"protocol": "cross_seed", "method": "toymethod"}
    assert _added(before, _jobs_with_toy_method(data)) == {
        "train_classifier": [job],
        "evaluate_attribution": [job],
        "interpret_attribution": [job],
    }
    assert "toymethod" not in registry.METHODS


def test_each_method_gets_its_own_dvc_definitions_with_its_own_files():
    data = _default_data()
    data["attribution"]["methods"] = ["postpool", "knn", "dnadet"]
    data["methods"]["dnadet"] = {}
    dvc = yaml.safe_load(render_dvc(parse_params(data)))["stages"]
    names = [n for n in dvc if n.split(".")[0] in ATTRIBUTION_STAGES]
    assert names == [f"{s}.{m}" for s in ATTRIBUTION_STAGES for m in ("postpool", "knn", "dnadet")]
    for stage in ATTRIBUTION_STAGES:
        for method in ("postpool", "knn", "dnadet"):
            d = dvc[f"{stage}.{method}"]
            own = [x for x in d["deps"] if x.startswith("src/") and x not in STAGES[stage].module_files]
            assert own == list(registry.method_modules(method)), (stage, method)
            assert f"--method {method} " in d["cmd"] and "${item.method}" not in str(d)
    assert "src/ganprint/nets/postpool.py" not in dvc["train_classifier.knn"]["deps"]
    # the job list is unchanged by the DVC layout: one job per protocol × method
    assert len(expand(STAGES["train_classifier"], parse_params(data))) == 6


def test_adding_a_method_to_the_defaults_adds_one_classifier_and_one_evaluation_per_protocol():
    data = _default_data()
    before = _jobs(parse_params(data))
    data["attribution"]["methods"].append("toymethod")
    data["methods"]["toymethod"] = {}
    jobs = [{"protocol": p, "method": "toymethod"} for p in ("closed_set", "cross_seed")]
    assert _added(before, _jobs_with_toy_method(data)) == {
        "train_classifier": jobs,
        "evaluate_attribution": jobs,
        "interpret_attribution": jobs,
    }


# == fine-tuned GANs (variant ft-<dataset>): finetune_gan instead of train_gan, the rest as for any GAN ================


def _with_finetunes() -> dict:
    """The defaults with the finetuned group grown to the seed-0 and seed-1 DCGANs fine-tuned on sklearn."""
    data = _default_data()
    data["gans"]["finetuned"] = {
        "dataset": ["skimage"],
        "arch": ["dcgan"],
        "loss": ["nonsat"],
        "variant": ["ft-sklearn"],
        "seed": [0, 1],
    }
    return data


def test_finetuned_gans_are_made_by_finetune_gan_and_used_like_the_others():
    p = parse_params(_with_finetunes())
    jobs = _jobs(p)
    ft = [{"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "ft-sklearn", "seed": s} for s in (0, 1)]
    assert jobs["finetune_gan"] == ft
    assert all(not j["variant"].startswith("ft-") for j in jobs["train_gan"]) and len(jobs["train_gan"]) == 14
    assert jobs["generate_images"][-2:] == ft and len(jobs["generate_images"]) == 16
    assert jobs["evaluate_gan"] == jobs["generate_images"]
    assert jobs["detect_fingerprints"] == [{"dataset": "skimage"}]
    # the same output paths as a trained GAN's, so generate_images reads G.pt where it always does
    assert STAGES["finetune_gan"].outputs == STAGES["train_gan"].outputs
    targets = all_targets(p)
    assert "results/models/gan/skimage/dcgan/nonsat/ft-sklearn/seed1/G.pt" in targets
    assert "results/samples/skimage/dcgan/nonsat/ft-sklearn/seed1/images.lmdb" in targets
    assert len(targets) == len(set(targets))
    assert STAGES["finetune_gan"].inputs == {
        "base_model": "results/models/gan/{dataset}/{arch}/{loss}/clean/seed{seed}/G.pt",
        "base_discriminator": "results/models/gan/{dataset}/{arch}/{loss}/clean/seed{seed}/D.pt",
    }
    assert STAGES["finetune_gan"].dynamic_inputs(p, ft[0]) == ["data/clean/sklearn/images.lmdb"]
    # Snakemake tells the two rules writing G.pt apart by the variant
    assert re.fullmatch(STAGES["train_gan"].constraints["variant"], "clean")
    assert not re.fullmatch(STAGES["train_gan"].constraints["variant"], "ft-sklearn")
    assert re.fullmatch(STAGES["finetune_gan"].constraints["variant"], "ft-sklearn")
    assert not re.fullmatch(STAGES["finetune_gan"].constraints["variant"], "clean")


def test_dvc_has_finetune_gan_for_finetuned_groups_only():
    dvc = yaml.safe_load(render_dvc(parse_params(_with_finetunes())))["stages"]
    gan_stages = [n for n in dvc if "." in n]
    assert "finetune_gan.finetuned" in gan_stages and "train_gan.finetuned" not in gan_stages
    assert "finetune_gan.seeds" not in gan_stages and "train_gan.seeds" in gan_stages
    assert "generate_images.finetuned" in gan_stages
    d = dvc["finetune_gan.finetuned"]
    assert d["deps"][-3:] == [
        "results/models/gan/${item.dataset}/${item.arch}/${item.loss}/clean/seed${item.seed}/G.pt",
        "results/models/gan/${item.dataset}/${item.arch}/${item.loss}/clean/seed${item.seed}/D.pt",
        "data/clean",
    ]
    assert d["params"] == ["finetune_gan", "train_gan", "archs.${item.arch}", "losses.${item.loss}"]
    assert d["cmd"].startswith("ganprint finetune-gan --params params.yaml --dataset ${item.dataset}")
