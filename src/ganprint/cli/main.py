"""``ganprint <stage>``: dispatch to the stage modules (one per pipeline stage, same name everywhere)."""

from __future__ import annotations

import importlib
import sys

# CLI name → module under ganprint.cli; the order is the pipeline order.
STAGES = {
    "prepare-dataset": "prepare_dataset",
    "train-gan": "train_gan",
    "finetune-gan": "finetune_gan",
    "generate-images": "generate_images",
    "fid-stats": "fid_stats",
    "evaluate-gan": "evaluate_gan",
    "train-fingerprint-autoencoder": "train_fingerprint_autoencoder",
    "embed-fingerprints": "embed_fingerprints",
    "detect-fingerprints": "detect_fingerprints",
    "fingerprint-robustness": "fingerprint_robustness",
    "build-split": "build_split",
    "train-classifier": "train_classifier",
    "immunize-classifier": "immunize_classifier",
    "evaluate-attribution": "evaluate_attribution",
    "evaluate-robustness": "evaluate_robustness",
    "interpret-attribution": "interpret_attribution",
    "make-tables": "make_tables",
    "make-figures": "make_figures",
    "make-report": "make_report",
}
# commands that are no pipeline stage
TOOLS = {
    "check-params": "check_params",
    "export": "export",
    "preset": "preset",
    "render-dvc": "render_dvc",
    "schema": "schema",
    "attribute": "attribute",
}


def usage() -> str:
    lines = ["usage: ganprint <command> [options]   (ganprint <command> --help for an example)"]
    for title, commands in (("stages (pipeline order)", STAGES), ("tools", TOOLS)):
        lines += ["", f"{title}:"]
        for cli, mod in commands.items():
            doc = (importlib.import_module(f"ganprint.cli.{mod}").__doc__ or "").strip().splitlines()[0]
            lines.append(f"  {cli:<32} {doc}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from ganprint import __version__

        print(__version__)
        return 0
    name = argv[0].replace("_", "-")
    commands = STAGES | TOOLS
    if name not in commands:
        print(f"ganprint: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"ganprint.cli.{commands[name]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
