"""params.yaml → frozen dataclasses; unknown keys, wrong types and out-of-range values are refused.

The one entry point is :func:`load_params`. Both front-ends call it before any job starts (the Snakefile at
parse time, every ``ganprint`` stage as its first step), so a bad params.yaml stops the pipeline with a
message that names the key and what it may be.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """params.yaml is wrong; the message names the key and the allowed values."""


def _f(default: Any = dataclasses.MISSING, *, choices=None, lo=None, hi=None, pow2=False, required=False):
    """A dataclass field with validation metadata (allowed values, inclusive range, power of two).

    ``required``: the key must be written in params.yaml even though it has a default, because dvc.yaml
    reads it from the file (templating or a dotted ``params:`` entry) and DVC knows no defaults.
    """
    meta = {"choices": choices, "lo": lo, "hi": hi, "pow2": pow2, "required": required}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------------------------------------------------
# Registries whose keys are the allowed values of params and wildcards (one place, also used by the rules).
SOURCES = ("embedded", "folder", "celeba", "lsun")
EMBEDDED_SETS = ("skimage", "sklearn")
CELEBA_CROPS = ("yu2019", "yu2021")
RESIZE_FILTERS = ("lanczos", "bicubic", "bilinear", "box", "nearest")
GAN_ARCHS = ("dcgan",)
GAN_LOSSES = ("nonsat",)
VARIANTS = ("clean", "fingerprinted")
CLASSIFIER_METHODS = ("postpool",)
# Paper results a protocol can be compared with (numbers in ganprint.report.paper_numbers); "" = none.
PAPER_REFERENCES = ("", "yu2019_table1", "yu2019_table2", "dnadet_cross_seed")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class DatasetCfg:
    source: str = _f(choices=SOURCES)
    path: str = _f()
    resolution: int = _f(32, lo=16, hi=1024, pow2=True)
    limit: int = _f(0, lo=0)
    num_images: int = _f(2000, lo=1)
    crop_scale: list[float] = _f([0.08, 0.5])
    celeba_crop: str = _f("yu2019", choices=CELEBA_CROPS)
    seed: int = _f(0, lo=0)


@dataclass(frozen=True)
class PrepareDatasetCfg:
    workers: int = _f(0, lo=0)
    resize_filter: str = _f("lanczos", choices=RESIZE_FILTERS)
    min_source_size: int = _f(0, lo=0)
    max_skipped_fraction: float = _f(0.1, lo=0.0, hi=1.0)
    grid_images: int = _f(64, lo=1, hi=1024, required=True)


@dataclass(frozen=True)
class GanCfg:
    dataset: str = _f()
    arch: str = _f("dcgan", choices=GAN_ARCHS)
    loss: str = _f("nonsat", choices=GAN_LOSSES)
    variant: str = _f("clean", choices=VARIANTS)
    seed: int = _f(0, lo=0)


@dataclass(frozen=True)
class TrainGanCfg:
    steps: int = _f(1500, lo=1)
    batch_size: int = _f(64, lo=1)
    z_dim: int = _f(64, lo=1)
    width: int = _f(64, lo=4)
    lr_g: float = _f(2e-4, lo=0.0)
    lr_d: float = _f(2e-4, lo=0.0)
    beta1: float = _f(0.5, lo=0.0, hi=1.0)
    beta2: float = _f(0.999, lo=0.0, hi=1.0)
    log_every: int = _f(100, lo=1)


@dataclass(frozen=True)
class GenerateImagesCfg:
    num_images: int = _f(1250, lo=1)
    seed: int = _f(1000, lo=0)
    batch_size: int = _f(250, lo=1)


@dataclass(frozen=True)
class TrainFingerprintAutoencoderCfg:
    datasets: list[str] = _f([], required=True)
    bits: int = _f(32, lo=1, hi=4096)
    steps: int = _f(3000, lo=1)
    batch_size: int = _f(64, lo=1)
    lr: float = _f(1e-4, lo=0.0)
    l2_weight: float = _f(10.0, lo=0.0)
    l2_await: int = _f(1000, lo=0)
    l2_ramp: int = _f(3000, lo=1)
    bce_weight: float = _f(1.0, lo=0.0)
    bit_acc_threshold: float = _f(0.9, lo=0.5, hi=1.0)
    seed: int = _f(0, lo=0)
    log_every: int = _f(100, lo=1)


@dataclass(frozen=True)
class EmbedFingerprintsCfg:
    identical: bool = _f(True)
    seed: int = _f(42, lo=0)
    batch_size: int = _f(64, lo=1)


@dataclass(frozen=True)
class DetectFingerprintsCfg:
    batch_size: int = _f(256, lo=1)


@dataclass(frozen=True)
class ProtocolCfg:
    train: dict[str, list[str]] = _f()
    test: dict[str, list[str]] = _f({})
    description: str = _f("")
    paper: str = _f("", choices=PAPER_REFERENCES)


@dataclass(frozen=True)
class TrainClassifierCfg:
    protocols: list[str] = _f([], required=True)
    methods: list[str] = _f(["postpool"], required=True)
    images_per_class: int = _f(1000, lo=1, required=True)
    epochs: int = _f(4, lo=1)
    batch_size: int = _f(32, lo=1)
    lr: float = _f(1e-3, lo=0.0)
    beta1: float = _f(0.0, lo=0.0, hi=1.0)
    beta2: float = _f(0.99, lo=0.0, hi=1.0)
    fmap_base: int = _f(256, lo=4)
    fmap_max: int = _f(128, lo=4)
    hflip: bool = _f(True)
    seed: int = _f(0, lo=0)


@dataclass(frozen=True)
class EvaluateAttributionCfg:
    images_per_class: int = _f(250, lo=1)
    batch_size: int = _f(250, lo=1)


@dataclass(frozen=True)
class MakeTablesCfg:
    decimals: int = _f(2, lo=0, hi=6)


@dataclass(frozen=True)
class Params:
    datasets: dict[str, DatasetCfg] = _f()
    prepare_dataset: PrepareDatasetCfg = _f()
    gans: dict[str, GanCfg] = _f()
    train_gan: TrainGanCfg = _f()
    generate_images: GenerateImagesCfg = _f()
    train_fingerprint_autoencoder: TrainFingerprintAutoencoderCfg = _f()
    embed_fingerprints: EmbedFingerprintsCfg = _f()
    detect_fingerprints: DetectFingerprintsCfg = _f()
    protocols: dict[str, ProtocolCfg] = _f()
    train_classifier: TrainClassifierCfg = _f()
    evaluate_attribution: EvaluateAttributionCfg = _f()
    make_tables: MakeTablesCfg = _f()

    # -- derived views used by both front-ends ------------------------------------------------------------
    def protocol_sources(self, protocol: str, split: str) -> dict[str, list[str]]:
        """Class name → source strings for ``split`` ('train' or 'test'); an empty test means 'as train'."""
        p = self.protocols[protocol]
        return dict(p.test) if split == "test" and p.test else dict(p.train)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _did_you_mean(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _convert(value: Any, tp, where: str, meta: dict | None = None) -> Any:
    meta = meta or {}
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r} ({type(value).__name__})")
        (item_tp,) = typing.get_args(tp)
        return [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of name → value, got {value!r}")
        _, val_tp = typing.get_args(tp)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not NAME_RE.match(k):
                raise ConfigError(
                    f"{where}: name {k!r} is not allowed; use letters, digits, '_', '-', '.' "
                    "(it becomes part of file paths and stage names)"
                )
            out[k] = _convert(v, val_tp, f"{where}.{k}")
        return out
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported type {tp}")
    # scalars
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"unsupported type {tp}")
    if not ok:
        allowed = f"; allowed: {', '.join(meta['choices'])}" if meta.get("choices") else ""
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__}){allowed}")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{where}: {value!r} is not allowed; allowed values: {', '.join(meta['choices'])}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"{lo if lo is not None else '-inf'} … {hi if hi is not None else 'inf'}"
        raise ConfigError(f"{where}: {value!r} is out of range; allowed: {rng}")
    if meta.get("pow2") and (value & (value - 1)) != 0:
        raise ConfigError(f"{where}: {value!r} must be a power of two (16, 32, 64, 128, …)")
    return value


def _build(cls, data: Any, where: str):
    loc = f"{where}: " if where else ""  # the top level has no key name
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{loc}expected a mapping of keys, got {data!r} ({type(data).__name__})")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"{loc}unknown key '{key}'{_did_you_mean(str(key), fields)}; allowed keys: {', '.join(fields)}"
            )
    kwargs = {}
    for name, f in fields.items():
        sub = f"{where}.{name}" if cls is not Params else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], sub, dict(f.metadata))
        elif f.metadata.get("required") or cls is Params:
            raise ConfigError(f"{sub}: missing key; it must be written in params.yaml (dvc.yaml reads it)")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{sub}: missing required key")
    return cls(**kwargs)


def _check_references(p: Params, src: str) -> None:
    """Cross-section checks: every name used somewhere is defined somewhere."""

    def err(msg):
        raise ConfigError(f"{src}: {msg}")

    for name, d in p.datasets.items():
        if d.source == "embedded" and d.path not in EMBEDDED_SETS:
            err(f"datasets.{name}.path: {d.path!r} is not an embedded set; allowed: {', '.join(EMBEDDED_SETS)}")
        if len(d.crop_scale) != 2 or not (0 < d.crop_scale[0] <= d.crop_scale[1] <= 1):
            err(f"datasets.{name}.crop_scale: {d.crop_scale!r} must be two fractions [lo, hi] with 0 < lo <= hi <= 1")
    fp_sets = p.train_fingerprint_autoencoder.datasets
    for ds in fp_sets:
        if ds not in p.datasets:
            err(f"train_fingerprint_autoencoder.datasets: unknown dataset {ds!r}; defined: {', '.join(p.datasets)}")
        if p.datasets[ds].resolution < 32:
            err(
                f"train_fingerprint_autoencoder.datasets: {ds!r} has resolution {p.datasets[ds].resolution}; "
                "the fingerprint autoencoder needs ≥ 32"
            )
    seen = {}
    for name, g in p.gans.items():
        if g.dataset not in p.datasets:
            err(f"gans.{name}.dataset: unknown dataset {g.dataset!r}; defined: {', '.join(p.datasets)}")
        if g.dataset not in fp_sets:
            err(
                f"gans.{name}.dataset: {g.dataset!r} must be listed in train_fingerprint_autoencoder.datasets "
                "(detect_fingerprints reads every GAN's samples with its dataset's decoder)"
            )
        sel = (g.dataset, g.arch, g.loss, g.variant, g.seed)
        if sel in seen:
            err(f"gans.{name} and gans.{seen[sel]} are the same GAN {'/'.join(map(str, sel))}")
        seen[sel] = name
    for name, proto in p.protocols.items():
        for split in ("train", "test"):
            classes = getattr(proto, split)
            if split == "train" and len(classes) < 2:
                err(f"protocols.{name}.train: needs at least two classes, got {list(classes)}")
            if split == "test" and classes and set(classes) != set(proto.train):
                err(
                    f"protocols.{name}.test: classes {sorted(classes)} must be the train classes "
                    f"{sorted(proto.train)} (or leave test empty to test on the train sources)"
                )
            for cls, sources in classes.items():
                if not sources:
                    err(f"protocols.{name}.{split}.{cls}: empty source list")
                for s in sources:
                    kind, _, ref = s.partition("/")
                    if kind == "real" and ref in p.datasets:
                        continue
                    if kind == "gan" and ref in p.gans:
                        continue
                    err(
                        f"protocols.{name}.{split}.{cls}: source {s!r} must be 'real/<dataset>' "
                        f"(datasets: {', '.join(p.datasets)}) or 'gan/<gan>' (gans: {', '.join(p.gans)})"
                    )
    tc = p.train_classifier
    for proto in tc.protocols:
        if proto not in p.protocols:
            err(f"train_classifier.protocols: unknown protocol {proto!r}; defined: {', '.join(p.protocols)}")
    for m in tc.methods:
        if m not in CLASSIFIER_METHODS:
            err(f"train_classifier.methods: {m!r} is not allowed; allowed values: {', '.join(CLASSIFIER_METHODS)}")


def parse_params(data: Any, src: str = "params.yaml") -> Params:
    """Validate a params mapping (as loaded from YAML) into :class:`Params`."""
    try:
        params = _build(Params, data, "")
    except ConfigError as e:
        raise ConfigError(f"{src}: {e}") from None
    _check_references(params, src)
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    """Load and validate params.yaml; raises :class:`ConfigError` with a message naming the bad key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such params file; run from the project root or pass --params PATH")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse_params(data, str(path))


def section_dict(params: Params, section: str) -> Any:
    """The resolved section as plain data (written beside outputs, hashed by Snakemake's params trigger)."""
    return _plain(getattr(params, section))


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def lookup(params: Params, dotted_key: str) -> Any:
    """The plain value of a dotted params key such as ``protocols.closed_set`` (as DVC's ``params:`` sees it)."""
    node: Any = _plain(params)
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"params has no key {dotted_key!r}")
        node = node[part]
    return node


def tracked_values(params: Params, keys: list[str], **selectors: str) -> str:
    """JSON of the values of ``keys`` (``{selector}`` placeholders filled): the Snakemake params trigger."""
    return json.dumps({k.format(**selectors): lookup(params, k.format(**selectors)) for k in keys}, sort_keys=True)
