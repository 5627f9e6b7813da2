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
    job_inputs,
    protocol_jobs,
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
    "skimage-dcgan-nonsat-ft-sklearn-seed0",  # 14-16: fine-tuned, not trained
    "skimage-sngan-hinge-ft-sklearn-seed0",
    "skimage-mmdgan-mmd-ft-sklearn-seed0",
    "sklearn-dcgan-nonsat-clean-seed0",  # 17-18: the other dataset (DNA-Det cross-dataset)
    "sklearn-mmdgan-mmd-clean-seed0",
]
FINGERPRINTED = GANS[11:14]
FINETUNED = GANS[14:17]
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
    "finetuned_sngan",
    "finetuned_mmdgan",
    "other_dataset",
    "other_dataset_mmdgan",
]
FINETUNED_GROUPS = ["finetuned", "finetuned_sngan", "finetuned_mmdgan"]
TRAINED_GROUPS = [g for g in GROUPS if g not in FINETUNED_GROUPS]
# the demo protocols: (methods, seeds) of those that train; the cross-* ones evaluate arch_closed's classifiers
TRAINED = {
    "closed_set": (["knn", "prnu", "postpool", "visnet"], [0, 1, 2]),
    "fine_grained": (["knn", "prnu", "postpool"], [0, 1, 2]),
    "arch_closed": (["prnu", "postpool", "gandct", "classmodel", "dnadet"], [0]),
}
CROSS = ["cross_seed", "cross_loss", "cross_finetune", "cross_dataset"]
PERTURBATIONS = ["noise", "blur", "jpeg", "crop", "relight"]
JOBS = {
    "prepare_dataset": 2,
    "train_fingerprint_autoencoder": 1,
    "embed_fingerprints": 2,  # skimage × the fingerprints fingerprinted and fp-owner2
    "train_gan": 16,  # every GAN but the fine-tuned ones
    "finetune_gan": 3,  # skimage DCGAN, SNGAN, MMDGAN fine-tuned on sklearn
    "generate_images": 19,
    "fid_stats": 2,
    "evaluate_gan": 19,
    "detect_fingerprints": 1,  # once per autoencoders dataset, over its real images and all of its GANs
    "fingerprint_robustness": 3,  # the GANs trained on fingerprinted data: dcgan × 2 owners, stylegan2
    "build_split": 7,  # one per protocol
    "train_classifier": 26,  # closed_set 4 methods × 3 seeds + fine_grained 3 × 3 + arch_closed 5 × 1
    "immunize_classifier": 5,  # closed_set: postpool × first seed × 5 perturbations
    "evaluate_attribution": 46,  # the 26 classifiers on their own protocol + 4 cross-* × arch_closed's 5
    "evaluate_robustness": 5,
    "interpret_attribution": 12,  # per trained protocol × method, first seed: 4 + 3 + 5
    "make_tables": 1,
    "make_figures": 1,
    "make_report": 1,
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
    # its own section, and that of the protocol whose classifiers it evaluates (their train/val images)
    "build_split": ["protocols.{protocol}", "protocols.{train_protocol}"],
    "train_classifier": [
        "train_classifier",
        "methods.{method}",
        "loader",
        "evaluate_attribution.open_set_tpr",
        "evaluate_attribution.open_set_score",
    ],
    "immunize_classifier": ["immunize_classifier", "methods.{method}", "loader"],
    "evaluate_attribution": ["evaluate_attribution", "loader"],
    "evaluate_robustness": ["evaluate_robustness", "loader"],
    "interpret_attribution": ["interpret_attribution", "loader"],
    "make_tables": ["make_tables", "datasets", "gans", "autoencoders", "fingerprints", "protocols", "attribution"],
    "make_figures": ["attribution", "protocols", "gans"],
    "make_report": ["attribution", "protocols", "gans", "datasets", "autoencoders", "fingerprints"],
}
GAN_WILDCARDS = ["dataset", "arch", "loss", "variant", "seed"]
PROTOCOLS = ["closed_set", "fine_grained", "arch_closed", *CROSS]


def _classifiers() -> list[dict]:
    return [{"protocol": pr, "method": m, "seed": s} for pr, (ms, seeds) in TRAINED.items() for m in ms for s in seeds]


def _evaluations() -> list[dict]:
    ms, seeds = TRAINED["arch_closed"]
    return _classifiers() + [{"protocol": pr, "method": m, "seed": s} for pr in CROSS for m in ms for s in seeds]


def _interpretations() -> list[dict]:
    return [{"protocol": pr, "method": m, "seed": seeds[0]} for pr, (ms, seeds) in TRAINED.items() for m in ms]


def _robustness() -> list[dict]:
    return [{"protocol": "closed_set", "method": "postpool", "seed": 0, "perturbation": k} for k in PERTURBATIONS]


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
        "immunize_classifier",
        "evaluate_attribution",
        "evaluate_robustness",
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
        "train_classifier": ["protocol", "method", "seed"],
        "immunize_classifier": ["protocol", "method", "seed", "perturbation"],
        "evaluate_attribution": ["protocol", "method", "seed"],
        "evaluate_robustness": ["protocol", "method", "seed", "perturbation"],
        "interpret_attribution": ["protocol", "method", "seed"],
        "make_tables": [],
        "make_figures": [],
        "make_report": [],
    }
    assert STAGES["train_gan"].job == "{dataset}-{arch}-{loss}-{variant}-seed{seed}"
    assert STAGES["train_gan"].log == "results/logs/train_gan/{dataset}-{arch}-{loss}-{variant}-seed{seed}.log"
    assert (
        STAGES["train_classifier"].benchmark == "results/benchmarks/train_classifier/{protocol}-{method}-seed{seed}.tsv"
    )
    assert STAGES["evaluate_robustness"].log == (
        "results/logs/evaluate_robustness/{protocol}-{method}-seed{seed}-{perturbation}.log"
    )
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


ATTRIBUTION_STAGES = (
    "train_classifier",
    "immunize_classifier",
    "evaluate_attribution",
    "evaluate_robustness",
    "interpret_attribution",
)


@pytest.mark.parametrize("name", ATTRIBUTION_STAGES)
def test_attribution_jobs_depend_on_their_method_modules_only(name):
    files = STAGES[name].module_files
    assert METHOD_MODULES in files and "src/ganprint/attribution/methods/base.py" in files
    assert [m for m in files if m.startswith("src/ganprint/nets/")] == ["src/ganprint/nets/layers.py"]
    shared = [m for m in files if m != METHOD_MODULES]
    for method in registry.METHODS:
        job = STAGES[name].job_modules({"protocol": "p", "method": method})
        assert job == [m for f in files for m in (registry.method_modules(method) if f == METHOD_MODULES else [f])]
        own = [m for m in registry.method_modules(method) if m not in shared]  # dnadet's perturb.py may be shared
        assert [m for m in job if m not in shared] == own, method
    job = STAGES[name].job_modules({"protocol": "p", "method": "gandct"})
    assert "src/ganprint/nets/gandct.py" in job and "src/ganprint/nets/postpool.py" not in job
    # the robustness stages perturb every method's images; the others only dnadet's (its patch augmentation)
    robust = name in ("immunize_classifier", "evaluate_robustness")
    assert ("src/ganprint/perturb.py" in job) == robust
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
    assert jobs["train_gan"] == sel[:14] + sel[17:]
    assert jobs["finetune_gan"] == sel[14:17]
    assert sel[14] == {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "ft-sklearn", "seed": 0}
    assert sel[17] == {"dataset": "sklearn", "arch": "dcgan", "loss": "nonsat", "variant": "clean", "seed": 0}
    assert jobs["fingerprint_robustness"] == [p.gan_list[g].selectors() for g in FINGERPRINTED]
    assert jobs["fid_stats"] == [{"dataset": "skimage"}, {"dataset": "sklearn"}]
    assert jobs["detect_fingerprints"] == [{"dataset": "skimage"}]
    assert sel[11] == {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "fingerprinted", "seed": 0}
    assert sel[12] == {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "fp-owner2", "seed": 0}
    assert sel[13] == sel[11] | {"arch": "stylegan2"}
    assert jobs["build_split"] == [{"protocol": pr} for pr in PROTOCOLS]
    assert jobs["train_classifier"] == _classifiers()
    assert jobs["evaluate_attribution"] == _evaluations()
    assert jobs["interpret_attribution"] == _interpretations()
    assert jobs["immunize_classifier"] == jobs["evaluate_robustness"] == _robustness()
    assert jobs["make_tables"] == jobs["make_figures"] == jobs["make_report"] == [{}]


def test_protocol_jobs_of_the_demo_protocols():
    p = _defaults()
    per_protocol = {
        grid: {pr: len([j for j in protocol_jobs(grid, p) if j["protocol"] == pr]) for pr in PROTOCOLS}
        for grid in ("protocols", "classifiers", "evaluations", "robustness", "interpretations")
    }
    assert per_protocol == {
        "protocols": dict.fromkeys(PROTOCOLS, 1),
        # closed_set: 4 methods × 3 seeds; fine_grained: 3 × 3; arch_closed: 5 × 1; the cross-* train nothing
        "classifiers": {"closed_set": 12, "fine_grained": 9, "arch_closed": 5} | dict.fromkeys(CROSS, 0),
        # each cross-* protocol evaluates arch_closed's 5 methods × 1 seed
        "evaluations": {"closed_set": 12, "fine_grained": 9, "arch_closed": 5} | dict.fromkeys(CROSS, 5),
        # postpool × the first seed × 5 perturbations
        "robustness": {"closed_set": 5, "fine_grained": 0, "arch_closed": 0} | dict.fromkeys(CROSS, 0),
        "interpretations": {"closed_set": 4, "fine_grained": 3, "arch_closed": 5} | dict.fromkeys(CROSS, 0),
    }
    # a cross-* evaluation reads the arch_closed classifier of the same method and seed
    assert job_inputs(STAGES["evaluate_attribution"], p, {"protocol": "cross_loss", "method": "gandct", "seed": 0}) == {
        "split": "results/splits/cross_loss.csv",
        "model": "results/models/classifier/arch_closed/gandct/seed0/model.pt",
    }
    assert job_inputs(STAGES["evaluate_robustness"], p, _robustness()[2]) == {
        "split": "results/splits/closed_set.csv",
        "model": "results/models/classifier/closed_set/postpool/seed0/model.pt",
        "immunized": "results/models/immunized/closed_set/postpool/seed0/jpeg/model.pt",
    }


def test_protocol_jobs_follow_a_protocols_seeds_and_robustness():
    data = _default_data()
    data["protocols"]["arch_closed"]["seeds"] = [4, 2]
    data["protocols"]["closed_set"]["robustness"] = {"perturbations": ["jpeg"], "methods": ["postpool", "knn"]}
    p = parse_params(data)
    # the cross-* protocols follow arch_closed's seeds, in its order
    assert [j for j in protocol_jobs("evaluations", p) if j["protocol"] == "cross_seed"] == [
        {"protocol": "cross_seed", "method": m, "seed": s} for m in TRAINED["arch_closed"][0] for s in (4, 2)
    ]
    assert [j for j in protocol_jobs("interpretations", p) if j["protocol"] == "arch_closed"] == [
        {"protocol": "arch_closed", "method": m, "seed": 4} for m in TRAINED["arch_closed"][0]
    ]
    assert protocol_jobs("robustness", p) == [
        {"protocol": "closed_set", "method": m, "seed": 0, "perturbation": "jpeg"} for m in ("postpool", "knn")
    ]


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
        "results/models/classifier/closed_set/postpool/seed2/model.pt",
        "results/models/classifier/arch_closed/dnadet/seed0/model.pt",
        "results/metrics/train_classifier/fine_grained/knn/seed1.json",
        "results/predictions/closed_set/postpool/seed1.csv",
        "results/predictions/cross_seed/postpool/seed0.csv",
        "results/metrics/evaluate_attribution/cross_seed/postpool/seed0.json",
        "results/metrics/evaluate_attribution/cross_dataset/classmodel/seed0.json",
        "results/models/immunized/closed_set/postpool/seed0/jpeg/model.pt",
        "results/metrics/immunize_classifier/closed_set/postpool/seed0/relight.json",
        "results/metrics/evaluate_robustness/closed_set/postpool/seed0/noise.json",
        "results/robustness/closed_set/postpool/seed0/crop.csv",
        "results/figures/attribution/closed_set/postpool/seed0/cam.png",
        "results/figures/attribution/arch_closed/gandct/seed0/tsne.png",
        "results/figures/attribution/fine_grained/prnu/seed0/fingerprints.png",
        "results/figures/attribution/closed_set/visnet/seed0/interpret.json",
        "results/models/gan/skimage/dcgan/nonsat/ft-sklearn/seed0/G.pt",
        "results/models/gan/sklearn/mmdgan/mmd/clean/seed0/G.pt",
        "results/samples/skimage/stylegan2/nonsat/fingerprinted/seed0/images.lmdb",
        "results/metrics/gan/skimage-mmdgan-cramer-clean-seed0.json",
        "results/tables/gans.csv",
        "results/tables/gans.md",
        *paths.TABLE_FILES,
        *(f"results/figures/paper/{k}" for k in ("confusion", "robustness", "training", "gans", "sources")),
        "results/index.html",
    ):
        assert t in targets, t
    for t in (
        "data/fingerprinted/sklearn/images.lmdb",  # sklearn has no autoencoder
        "results/models/classifier/cross_seed/postpool/seed0/model.pt",  # cross_seed uses arch_closed's
        "results/models/classifier/arch_closed/postpool/seed1/model.pt",  # arch_closed has seed 0 only
        "results/models/immunized/closed_set/postpool/seed1/jpeg/model.pt",  # robustness: the first seed only
        "results/figures/attribution/closed_set/postpool/seed1/cam.png",  # interpretations: the first seed only
        "results/models/immunized/closed_set/knn/seed0/jpeg/model.pt",  # robustness: postpool only
    ):
        assert t not in targets, t


def test_every_input_is_an_earlier_stages_output():
    p = _defaults()
    made: set[str] = set()
    for name, st in STAGES.items():
        for w in expand(st, p):
            needed = list(job_inputs(st, p, w).values())
            if st.dynamic_inputs:
                needed += st.dynamic_inputs(p, w)
            # the FID of evaluate_gan (the GAN zoo) when that stage is declared
            missing = [i for i in needed if i not in made and not ("evaluate_gan" not in STAGES and "/gan/" in i)]
            assert not missing, (name, w, missing)
        made.update(out.format(**w) for w in expand(st, p) for out in st.outputs.values())


def test_dynamic_inputs():
    p = _defaults()
    # arch_closed's train sources (its classifiers' train/val images) + its own test sources, incl. unknown
    assert STAGES["build_split"].dynamic_inputs(p, {"protocol": "cross_seed"}) == [
        "data/clean/skimage/manifest.csv",
        *[f"results/samples/skimage/dcgan/nonsat/clean/seed{s}/manifest.csv" for s in range(4)],
        "results/samples/skimage/mimicry/infomax/clean/seed0/manifest.csv",
        "results/samples/skimage/mmdgan/mmd/clean/seed0/manifest.csv",
        "results/samples/skimage/progan/wgangp/clean/seed0/manifest.csv",
        "results/samples/skimage/sngan/hinge/clean/seed0/manifest.csv",
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
        *[paths.METRICS_ATTRIBUTION.format(**w) for w in _evaluations()],
        *[paths.METRICS_ROBUSTNESS_ATTR.format(**w) for w in _robustness()],
    ]
    assert len(tables) == 4 + 19 + 46 + 5
    assert STAGES["detect_fingerprints"].dynamic_inputs(p, {"dataset": "skimage"}) == [
        "data/fingerprinted/skimage/embedded_fingerprints.txt",
        "data/fp-owner2/skimage/embedded_fingerprints.txt",
        *[
            f
            for g in GANS
            if g.startswith("skimage-")  # its own dataset's GANs, not sklearn's
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
        tracked_params(STAGES["train_classifier"], p, {"protocol": "closed_set", "method": "postpool", "seed": 1})
    ) == {
        "train_classifier": {"epochs": 2, "batch_size": 16},  # the seed is the job's wildcard
        "methods.postpool": lookup(p, "methods.postpool"),
        "loader": {"workers": 0, "memory_budget_mb": 512},
        "evaluate_attribution.open_set_tpr": 0.95,  # the checkpoint stores the threshold calibrated on val
        "evaluate_attribution.open_set_score": "msp",
    }
    assert json.loads(tracked_params(STAGES["build_split"], p, {"protocol": "cross_seed"})) == {
        "protocols.cross_seed": lookup(p, "protocols.cross_seed"),
        "protocols.arch_closed": lookup(p, "protocols.arch_closed"),  # the train/val images of its classifiers
    }
    assert json.loads(tracked_params(STAGES["build_split"], p, {"protocol": "closed_set"})) == {
        "protocols.closed_set": lookup(p, "protocols.closed_set"),
    }
    assert json.loads(tracked_params(STAGES["immunize_classifier"], p, _robustness()[0])) == {
        "immunize_classifier": {"epochs": 1, "batch_size": 16, "p": 0.5, "seed": 0},
        "methods.postpool": lookup(p, "methods.postpool"),
        "loader": {"workers": 0, "memory_budget_mb": 512},
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
        input=ns(**{k: v.format(**w) for k, v in job_inputs(st, _defaults(), w).items()}),
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
        # the protocol whose classifiers a job reads (train_protocol) is derived from params
        sel = w | ({"train_protocol": p.train_protocol(w["protocol"])} if "protocol" in w else {})
        assert _snakemake_job_command(st, w) == _item(cmd, sel)


def test_the_command_of_one_job_exactly():
    st = STAGES["train_classifier"]
    w = {"protocol": "closed_set", "method": "postpool", "seed": 2}
    assert _item(dvc_command(st), w) == (
        "ganprint train-classifier --params params.yaml --protocol closed_set --method postpool --seed 2 "
        "--split results/splits/closed_set.csv --out results/models/classifier/closed_set/postpool/seed2 "
        "--metrics results/metrics/train_classifier/closed_set/postpool/seed2.json "
        "--threads 1 "
        "--log results/logs/train_classifier/closed_set-postpool-seed2.log"
    )
    w = {"protocol": "closed_set", "method": "postpool", "seed": 0, "perturbation": "jpeg"}
    assert _item(dvc_command(STAGES["evaluate_robustness"]), w) == (
        "ganprint evaluate-robustness --params params.yaml --protocol closed_set --method postpool --seed 0 "
        "--perturbation jpeg --split results/splits/closed_set.csv "
        "--model results/models/classifier/closed_set/postpool/seed0/model.pt "
        "--immunized results/models/immunized/closed_set/postpool/seed0/jpeg/model.pt "
        "--curve results/robustness/closed_set/postpool/seed0/jpeg.csv "
        "--metrics results/metrics/evaluate_robustness/closed_set/postpool/seed0/jpeg.json "
        "--threads 1 "
        "--log results/logs/evaluate_robustness/closed_set-postpool-seed0-jpeg.log"
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
    trained = TRAINED_GROUPS  # the finetuned groups are made by finetune_gan
    own = [f"{pr}.{m}" for pr, (ms, _) in TRAINED.items() for m in ms]  # one definition per protocol × method
    cross = [f"{pr}.{m}" for pr in CROSS for m in TRAINED["arch_closed"][0]]
    assert list(dvc) == [
        "prepare_dataset",
        "train_fingerprint_autoencoder",
        "embed_fingerprints",
        *(f"train_gan.{g}" for g in trained),
        *(f"finetune_gan.{g}" for g in FINETUNED_GROUPS),
        *(f"generate_images.{g}" for g in GROUPS),
        "fid_stats",
        *(f"evaluate_gan.{g}" for g in GROUPS),
        "detect_fingerprints",
        "fingerprint_robustness.fingerprinted",  # only the GANs trained on fingerprinted data
        "fingerprint_robustness.fingerprinted_stylegan2",
        *(f"build_split.{pr}" for pr in PROTOCOLS),
        *(f"train_classifier.{x}" for x in own),
        "immunize_classifier.closed_set.postpool",
        *(f"evaluate_attribution.{x}" for x in own + cross),
        "evaluate_robustness.closed_set.postpool",
        *(f"interpret_attribution.{x}" for x in own),
        "make_tables",
        "make_figures",
        "make_report",
    ]
    for group in ("fingerprinted", "fingerprinted_stylegan2"):
        assert dvc[f"fingerprint_robustness.{group}"]["matrix"] == {w: f"${{gans.{group}.{w}}}" for w in GAN_WILDCARDS}
    for stage, groups in (("train_gan", trained), ("finetune_gan", FINETUNED_GROUPS)) + tuple(
        (s, GROUPS) for s in ("generate_images", "evaluate_gan")
    ):
        for group in groups:
            assert dvc[f"{stage}.{group}"]["matrix"] == {w: f"${{gans.{group}.{w}}}" for w in GAN_WILDCARDS}
            assert list(dvc[f"{stage}.{group}"]["matrix"]) == GAN_WILDCARDS
    assert dvc["prepare_dataset"]["matrix"] == dvc["fid_stats"]["matrix"] == {"dataset": "${datasets}"}
    assert dvc["train_fingerprint_autoencoder"]["matrix"] == {"dataset": "${autoencoders}"}
    assert dvc["embed_fingerprints"]["matrix"] == {"dataset": "${autoencoders}", "variant": "${fingerprints}"}
    assert dvc["detect_fingerprints"]["matrix"] == {"dataset": "${autoencoders}"}
    for pr in PROTOCOLS:
        assert "matrix" not in dvc[f"build_split.{pr}"]
    # the seeds come from params.yaml (a cross-* protocol: those of the protocol that trains its classifiers)
    for pr, (ms, _) in TRAINED.items():
        for m in ms:
            for stage in ("train_classifier", "evaluate_attribution"):
                assert dvc[f"{stage}.{pr}.{m}"]["matrix"] == {"seed": f"${{protocols.{pr}.seeds}}"}
            assert dvc[f"interpret_attribution.{pr}.{m}"]["matrix"] == {"seed": [0]}  # the first seed
    for pr in CROSS:
        for m in TRAINED["arch_closed"][0]:
            assert dvc[f"evaluate_attribution.{pr}.{m}"]["matrix"] == {"seed": "${protocols.arch_closed.seeds}"}
    for stage in ("immunize_classifier", "evaluate_robustness"):
        assert dvc[f"{stage}.closed_set.postpool"]["matrix"] == {
            "seed": [0],
            "perturbation": "${protocols.closed_set.robustness.perturbations}",
        }
    for name in ("make_tables", "make_figures", "make_report"):
        assert "matrix" not in dvc[name]
    for name, d in dvc.items():
        assert list(d) == [*(["matrix"] if "matrix" in d else []), "cmd", "deps", "params", "outs"] + (
            ["metrics"] if "metrics" in d else []
        ) + (["plots"] if "plots" in d else []), name
    assert [n for n, d in dvc.items() if "plots" in d] == [
        "train_fingerprint_autoencoder",
        *(f"train_gan.{g}" for g in trained),
        *(f"finetune_gan.{g}" for g in FINETUNED_GROUPS),
        "detect_fingerprints",
        "fingerprint_robustness.fingerprinted",
        "fingerprint_robustness.fingerprinted_stylegan2",
        *(f"evaluate_attribution.{x}" for x in own + cross),  # the predictions: a confusion-matrix plot
        "evaluate_robustness.closed_set.postpool",  # the curve
    ]


def _fixed(name: str) -> dict | None:
    """The wildcards a DVC definition fixes: ``<stage>.<protocol>[.<method>]`` of an attribution stage fixes its
    protocol (and the protocol whose classifiers it reads) and method."""
    stage, *rest = name.split(".")
    if "protocol" not in STAGES[stage].wildcards:
        return None
    protocol = rest[0]
    train = "arch_closed" if protocol in CROSS else protocol
    return {"protocol": protocol, "train_protocol": train} | ({"method": rest[1]} if len(rest) > 1 else {})


def test_dvc_commands_are_the_declared_ones():
    dvc = _dvc()
    for name, d in dvc.items():
        assert d["cmd"] == dvc_command(STAGES[name.split(".")[0]], _fixed(name)), name
    assert dvc["train_classifier.closed_set.postpool"]["cmd"] == (
        "ganprint train-classifier --params params.yaml --protocol closed_set --method postpool --seed ${item.seed} "
        "--split results/splits/closed_set.csv --out results/models/classifier/closed_set/postpool/seed${item.seed} "
        "--metrics results/metrics/train_classifier/closed_set/postpool/seed${item.seed}.json "
        "--threads 1 "
        "--log results/logs/train_classifier/closed_set-postpool-seed${item.seed}.log"
    )
    assert dvc["evaluate_attribution.cross_loss.gandct"]["cmd"] == (
        "ganprint evaluate-attribution --params params.yaml --protocol cross_loss --method gandct --seed ${item.seed} "
        "--split results/splits/cross_loss.csv --model results/models/classifier/arch_closed/gandct/seed${item.seed}"
        "/model.pt --predictions results/predictions/cross_loss/gandct/seed${item.seed}.csv "
        "--metrics results/metrics/evaluate_attribution/cross_loss/gandct/seed${item.seed}.json "
        "--threads 1 "
        "--log results/logs/evaluate_attribution/cross_loss-gandct-seed${item.seed}.log"
    )


def test_dvc_outputs_persist_and_metrics_stay_in_git():
    dvc = _dvc()
    for name, d in dvc.items():
        st = STAGES[name.split(".")[0]]
        for entry in d["outs"]:
            ((path, opts),) = entry.items()
            assert opts["persist"] is True, (name, path)
            in_git = path.startswith(paths.TABLES)  # the results page is cached like the figures it links
            assert opts == ({"persist": True, "cache": False} if in_git else {"persist": True}), (name, path)
        for entry in d.get("metrics", []):
            ((path, opts),) = entry.items()
            assert opts == {"persist": True, "cache": False}, (name, path)
            assert path.startswith("results/metrics/")
        for entry in d.get("plots", []):
            ((path, opts),) = entry.items()
            # x: training step, the strength or level of a robustness curve, or the predicted class of a confusion
            # matrix; cached by DVC: results/* is ignored
            if st.name == "evaluate_attribution":
                assert opts == {"persist": True, "x": "predicted", "y": "label", "template": "confusion"}
                assert re.fullmatch(r"results/predictions/\w+/\w+/seed\$\{item\.seed\}\.csv", path), path
                continue
            x = {"fingerprint_robustness": "strength", "evaluate_robustness": "level"}.get(st.name, "step")
            assert opts == {"persist": True, "x": x}, (name, path)
            ends = ("/loss_curves.csv", "/curves.csv", "/bit_accuracy_by_step.csv")
            expected = {"strength": ("/bit_accuracy.csv",), "level": ("/${item.perturbation}.csv",)}.get(x, ends)
            assert path.endswith(expected), path
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
        declared = list(dict.fromkeys(k.format_map(_Keep(_fixed(name))) for k in PARAMS_KEYS[name.split(".")[0]]))
        assert d["params"] == [re.sub(r"\{(\w+)\}", r"${item.\1}", k) for k in declared], name
    assert dvc["train_gan.seeds"]["params"] == ["train_gan", "archs.${item.arch}", "losses.${item.loss}"]
    assert dvc["train_classifier.closed_set.postpool"]["params"] == [
        "train_classifier",
        "methods.postpool",
        "loader",
        "evaluate_attribution.open_set_tpr",
        "evaluate_attribution.open_set_score",
    ]
    # a protocol's split depends on its own section, and a cross-* one's also on arch_closed's (train/val images)
    assert dvc["build_split.closed_set"]["params"] == ["protocols.closed_set"]
    assert dvc["build_split.cross_seed"]["params"] == ["protocols.cross_seed", "protocols.arch_closed"]


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
    assert dvc["train_classifier.closed_set.postpool"]["deps"] == [
        "src/ganprint/cli/train_classifier.py",
        "src/ganprint/attribution/train.py",
        "src/ganprint/attribution/splits.py",
        "src/ganprint/data/dataset.py",
        "src/ganprint/attribution/methods/postpool.py",
        "src/ganprint/nets/postpool.py",
        "src/ganprint/attribution/methods/base.py",
        "src/ganprint/attribution/inputs.py",
        "src/ganprint/nets/layers.py",
        "results/splits/closed_set.csv",
    ]
    assert dvc["evaluate_attribution.closed_set.postpool"]["deps"][-2:] == [
        "results/splits/closed_set.csv",
        "results/models/classifier/closed_set/postpool/seed${item.seed}/model.pt",
    ]
    assert dvc["evaluate_attribution.cross_seed.postpool"]["deps"][-2:] == [
        "results/splits/cross_seed.csv",
        "results/models/classifier/arch_closed/postpool/seed${item.seed}/model.pt",
    ]
    assert dvc["immunize_classifier.closed_set.postpool"]["deps"][-2:] == [
        "results/splits/closed_set.csv",
        "results/models/classifier/closed_set/postpool/seed${item.seed}/model.pt",
    ]
    assert dvc["evaluate_robustness.closed_set.postpool"]["deps"][-3:] == [
        "results/splits/closed_set.csv",
        "results/models/classifier/closed_set/postpool/seed${item.seed}/model.pt",
        "results/models/immunized/closed_set/postpool/seed${item.seed}/${item.perturbation}/model.pt",
    ]
    assert dvc["interpret_attribution.closed_set.postpool"]["deps"][-3:] == [
        "results/splits/closed_set.csv",
        "results/models/classifier/closed_set/postpool/seed${item.seed}/model.pt",
        "results/metrics/evaluate_attribution/closed_set/postpool/seed${item.seed}.json",
    ]
    for stage in ATTRIBUTION_STAGES:
        for folder in ("data/clean", "results/samples", "data", "results"):
            assert folder not in dvc[f"{stage}.closed_set.postpool"]["deps"]
    for pr in PROTOCOLS:
        assert dvc[f"build_split.{pr}"]["deps"][-2:] == ["data/clean", "results/samples"]


def test_only_build_split_and_the_report_stages_depend_on_folders():
    dvc = _dvc()
    folders = {n: [x for x in d["deps"] if not re.search(r"\.\w+$", x)] for n, d in dvc.items()}
    assert {n: f for n, f in folders.items() if f} == {
        **{f"build_split.{pr}": ["data/clean", "results/samples"] for pr in PROTOCOLS},
        # ft-<dataset> names the dataset inside the variant: a matrix cannot map it to data/clean/<dataset>/
        **{f"finetune_gan.{g}": ["data/clean"] for g in FINETUNED_GROUPS},
        # a dataset's GANs and fingerprints: the embed metrics carry each fingerprint, so they change with it
        "detect_fingerprints": ["results/metrics/embed_fingerprints", "results/samples", "results/models/gan"],
        "make_tables": [
            "results/metrics/train_fingerprint_autoencoder",
            "results/metrics/embed_fingerprints",
            "results/metrics/detect_fingerprints",
            "results/metrics/evaluate_attribution",
            "results/metrics/evaluate_robustness",
            "results/metrics/gan",
        ],
        "make_figures": [
            "results/metrics/evaluate_attribution",
            "results/metrics/evaluate_robustness",
            "results/models/classifier",
            "results/models/gan",
            "results/samples",
            "data/clean",
        ],
        # the figure folders it links (the confusion folder is a declared input, a folder output of make_figures)
        "make_report": [
            "results/figures/paper/confusion",
            "results/figures/attribution",
            "results/fingerprint_robustness",
            "results/samples",
            "data",
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


def test_adding_a_protocol_adds_a_split_its_classifiers_and_their_evaluations():
    data = _default_data()
    before = _jobs(parse_params(data))
    data["protocols"]["real_vs_fake"] = {
        "methods": ["postpool", "knn"],
        "seeds": [0, 1],
        "train": {"real": ["real/skimage"], "fake": ["gan/skimage-dcgan-nonsat-fingerprinted-seed0"]},
    }
    data["attribution"]["protocols"].append("real_vs_fake")
    after = _jobs(parse_params(data))
    jobs = [{"protocol": "real_vs_fake", "method": m, "seed": s} for m in ("postpool", "knn") for s in (0, 1)]
    assert _added(before, after) == {
        "build_split": [{"protocol": "real_vs_fake"}],
        "train_classifier": jobs,
        "evaluate_attribution": jobs,
        "interpret_attribution": [{"protocol": "real_vs_fake", "method": m, "seed": 0} for m in ("postpool", "knn")],
    }
    # a protocol evaluating its classifiers on other test sources adds a split and the evaluations only
    data["protocols"]["real_vs_fake_2"] = {
        "classifier": "real_vs_fake",
        "test": {"real": ["real/sklearn"], "fake": ["gan/skimage-dcgan-nonsat-fp-owner2-seed0"]},
    }
    data["attribution"]["protocols"].append("real_vs_fake_2")
    assert _added(after, _jobs(parse_params(data))) == {
        "build_split": [{"protocol": "real_vs_fake_2"}],
        "evaluate_attribution": [j | {"protocol": "real_vs_fake_2"} for j in jobs],
    }
    # a protocol that is defined but not listed in attribution runs nothing
    data["attribution"]["protocols"] = data["attribution"]["protocols"][:-2]
    assert _jobs(parse_params(data)) == before


def test_adding_a_seed_to_a_protocol_adds_its_classifiers_and_evaluations_and_no_render():
    data = _default_data()
    before = _jobs(parse_params(data))
    data["protocols"]["arch_closed"]["seeds"].append(1)
    after = _jobs(parse_params(data))
    ms = TRAINED["arch_closed"][0]
    assert _added(before, after) == {
        "train_classifier": [{"protocol": "arch_closed", "method": m, "seed": 1} for m in ms],
        "evaluate_attribution": [
            {"protocol": pr, "method": m, "seed": 1} for pr in ("arch_closed", *CROSS) for m in ms
        ],
    }
    # the seed matrices read params.yaml: dvc.yaml stays as it is
    assert render_dvc(parse_params(data)) == render_dvc(_defaults())


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


def test_adding_a_method_adds_one_classifier_and_its_evaluations():
    data = _default_data()
    data["attribution"]["protocols"] = ["arch_closed", "cross_seed"]
    before = _jobs(parse_params(data))
    data["protocols"]["arch_closed"]["methods"].append("toymethod")
    data["methods"]["toymethod"] = {"temperature": 0.5}
    job = {"protocol": "arch_closed", "method": "toymethod", "seed": 0}
    assert _added(before, _jobs_with_toy_method(data)) == {
        "train_classifier": [job],
        "evaluate_attribution": [job, job | {"protocol": "cross_seed"}],  # cross_seed evaluates it too
        "interpret_attribution": [job],
    }
    assert "toymethod" not in registry.METHODS


def test_each_protocol_and_method_gets_its_own_dvc_definitions_with_its_own_files():
    data = _default_data()
    data["attribution"]["protocols"] = ["arch_closed", "cross_seed"]
    data["protocols"]["arch_closed"]["methods"] = ["postpool", "knn", "dnadet"]
    data["methods"]["dnadet"] = {}
    dvc = yaml.safe_load(render_dvc(parse_params(data)))["stages"]
    names = [n for n in dvc if n.split(".")[0] in ATTRIBUTION_STAGES]
    ms = ("postpool", "knn", "dnadet")
    assert names == [
        *(f"train_classifier.arch_closed.{m}" for m in ms),
        *(f"evaluate_attribution.{pr}.{m}" for pr in ("arch_closed", "cross_seed") for m in ms),
        *(f"interpret_attribution.arch_closed.{m}" for m in ms),
    ]
    for name in names:
        stage, protocol, method = name.split(".")
        d = dvc[name]
        own = [x for x in d["deps"] if x.startswith("src/") and x not in STAGES[stage].module_files]
        assert own == list(registry.method_modules(method)), name
        assert f"--protocol {protocol} --method {method} " in d["cmd"], name
        assert "${item.method}" not in str(d) and "${item.protocol}" not in str(d), name
    assert "src/ganprint/nets/postpool.py" not in dvc["train_classifier.arch_closed.knn"]["deps"]
    # the job list is unchanged by the DVC layout: one job per protocol × method × seed
    assert len(expand(STAGES["train_classifier"], parse_params(data))) == 3


def test_adding_a_method_to_a_protocol_adds_a_classifier_per_seed():
    data = _default_data()
    before = _jobs(parse_params(data))
    data["protocols"]["closed_set"]["methods"].append("toymethod")
    data["methods"]["toymethod"] = {}
    jobs = [{"protocol": "closed_set", "method": "toymethod", "seed": s} for s in (0, 1, 2)]
    assert _added(before, _jobs_with_toy_method(data)) == {
        "train_classifier": jobs,
        "evaluate_attribution": jobs,
        "interpret_attribution": jobs[:1],
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
    assert jobs["finetune_gan"][:2] == ft and len(jobs["finetune_gan"]) == 4  # + the SNGAN and MMDGAN ones
    assert all(not j["variant"].startswith("ft-") for j in jobs["train_gan"]) and len(jobs["train_gan"]) == 16
    assert jobs["generate_images"][14:16] == ft and len(jobs["generate_images"]) == 20
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
