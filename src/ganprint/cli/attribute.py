"""Attribute image files to sources with a trained attribution model (any method; open-set rejection when calibrated).

Every image is read as 8-bit RGB (alpha composited on white, grey / palette / 16-bit converted: see
ganprint.data.images.to_rgb) and brought to the model's resolution by an explicit ``--policy``:
``resize`` (the whole image, aspect ratio not kept, PIL filter ``--filter``), ``center-crop`` (the central
R×R window; images smaller than R are skipped) or ``crop-resize`` (the central square, then resized). An image
already R×R is used as it is. Output per image: path, predicted source, the confidence (the predicted class's
score) and one score per class; ``unknown`` when the confidence is below the open-set threshold the model was
calibrated with (train_classifier, on the split's val part), which the JSON header / CSV comment lines state.

A file that cannot be read gets one line on stderr and is skipped; exit code 0 when at least one image was
attributed, 2 when none was (or the model / arguments are wrong).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from ganprint.cli._common import StageError, add_device, make_parser, pick_device, run

EXAMPLE = """
ganprint attribute some/folder --model results/models/classifier/closed_set/postpool/model.pt \\
    --policy crop-resize --filter lanczos --format json --out attributions.json
"""

POLICIES = ("resize", "center-crop", "crop-resize")


def _files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.is_file() and not p.name.startswith("."))
    if target.exists():
        return [target]
    raise StageError(f"{target}: no such file or folder")


def fit_to(img, resolution: int, policy: str, filter_name: str):
    """(H, W, 3) uint8 → (R, R, 3) uint8 by ``policy``; raises ValueError when the policy cannot apply."""
    from ganprint.data.images import center_square, crop_box, resize

    h, w = img.shape[:2]
    if (h, w) == (resolution, resolution):
        return img
    if policy == "resize":
        return resize(img, resolution, filter_name)
    if policy == "crop-resize":
        return resize(center_square(img), resolution, filter_name)
    if min(h, w) < resolution:
        raise ValueError(f"{w}x{h} is smaller than the model's {resolution} px; use --policy resize or crop-resize")
    return crop_box(img, (h - resolution) // 2, (w - resolution) // 2, resolution)


def attribute(paths, model_path, *, policy, filter_name, tta, tta_vote, batch_size, device, warn) -> dict:
    """Score ``paths``; returns the header and one record per attributed image (skips reported via ``warn``)."""
    import numpy as np
    import torch

    from ganprint.attribution.evaluate import predict
    from ganprint.attribution.methods import method_from_checkpoint
    from ganprint.attribution.openset import UNKNOWN, confidence, rejection_scores
    from ganprint.checkpoint import load_checkpoint
    from ganprint.data.images import ImageSkip, load_rgb
    from ganprint.train.common import from_uint8

    ckpt = load_checkpoint(model_path, "attribution_classifier")
    method = method_from_checkpoint(ckpt, device)
    classes, res = list(ckpt["classes"]), int(ckpt["resolution"])
    cal = ckpt.get("calibration")
    threshold = None if cal is None else float(cal["threshold"])
    header = {
        "model": str(model_path),
        "method": ckpt["model_name"],
        "protocol": ckpt.get("protocol", ""),
        "classes": classes,
        "resolution": res,
        "policy": policy,
        "filter": filter_name if policy != "center-crop" else None,
        "tta": tta,
        "tta_vote": tta_vote,
        "threshold": threshold,
        "calibration": (
            f"confidence >= {threshold:.6f} accepted: TPR {cal['tpr_val']:.4f} on {cal['val_images']} known "
            f"validation images (target {cal['target_tpr']}, {cal.get('tta', 'none')} TTA); below it: {UNKNOWN}"
            if cal
            else "none: the model's split had no validation part, so nothing is rejected as unknown"
        ),
    }
    records, skipped = [], []
    batch: list[tuple[Path, np.ndarray]] = []

    def flush():
        if not batch:
            return
        images = torch.from_numpy(np.stack([a for _, a in batch])).permute(0, 3, 1, 2).contiguous()
        scores, pred = predict(method, images, device, tta, tta_vote)
        kind = cal.get("kind", "msp") if cal else "msp"  # the score the threshold was calibrated for
        if kind == "msp":
            conf = confidence(scores, pred)
        else:
            x = from_uint8(images, device)
            conf = rejection_scores(method, x, kind, ckpt.get("open_set_stats"))
        for (path, _), s, p, c in zip(batch, scores, pred, conf, strict=True):
            rejected = threshold is not None and c < threshold
            records.append(
                {
                    "path": str(path),
                    "predicted": UNKNOWN if rejected else classes[p],
                    "closed_set_predicted": classes[p],
                    "confidence": round(float(c), 6),
                    "rejected": bool(rejected),
                    "scores": {k: round(float(v), 6) for k, v in zip(classes, s, strict=True)},
                }
            )
        batch.clear()

    for path in paths:
        try:
            img = fit_to(load_rgb(path), res, policy, filter_name)
        except (ImageSkip, ValueError) as e:
            warn(f"ganprint attribute: skipped {path}: {e}")
            skipped.append({"path": str(path), "reason": str(e)})
            continue
        batch.append((path, img))
        if len(batch) >= batch_size:
            flush()
    flush()
    return {**header, "images": records, "skipped": skipped}


def to_csv(result: dict) -> str:
    out = io.StringIO()
    for key in ("model", "method", "classes", "resolution", "policy", "filter", "tta", "tta_vote", "threshold"):
        out.write(f"# {key}: {result[key]}\n")
    out.write(f"# open-set calibration: {result['calibration']}\n")
    w = csv.writer(out, lineterminator="\n")
    cols = ["path", "predicted", "closed_set_predicted", "confidence", "rejected"]
    w.writerow(cols + [f"score_{c}" for c in result["classes"]])
    for r in result["images"]:
        w.writerow([r[c] for c in cols] + [r["scores"][c] for c in result["classes"]])
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    from ganprint.attribution.tta import TTA_MODES, TTA_VOTES
    from ganprint.data.images import FILTERS

    p = make_parser("attribute", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument(
        "target", type=Path, metavar="IMAGE_OR_DIR", help="an image file, or a folder (searched recursively)"
    )
    p.add_argument("--model", type=Path, required=True, help="attribution checkpoint (train_classifier's model.pt)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    p.add_argument("--policy", choices=POLICIES, default="crop-resize", help="how to reach the model's size")
    p.add_argument("--filter", choices=tuple(FILTERS), default="lanczos", help="PIL resize filter (default lanczos)")
    p.add_argument("--tta", choices=TTA_MODES, default="none")
    p.add_argument("--tta-vote", choices=TTA_VOTES, default="majority")
    p.add_argument("--batch-size", type=int, default=64)

    def body(args, _params):
        from ganprint.io import write_text

        result = attribute(
            _files(args.target),
            args.model,
            policy=args.policy,
            filter_name=args.filter,
            tta=args.tta,
            tta_vote=args.tta_vote,
            batch_size=max(args.batch_size, 1),
            device=pick_device(args),
            warn=lambda msg: print(msg, file=sys.stderr),
        )
        if not result["images"]:
            raise StageError(f"{args.target}: no image could be attributed ({len(result['skipped'])} skipped)")
        text = json.dumps(result, indent=2) + "\n" if args.format == "json" else to_csv(result)
        if args.out is None:
            sys.stdout.write(text)
        else:
            write_text(args.out, text)

    return run(p, argv, body, needs_params=False)
