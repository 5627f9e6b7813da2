"""Validate params.yaml and print what the pipeline will build (no job runs)."""

from __future__ import annotations

from ganprint.cli._common import make_parser, run

MODULES = ["src/ganprint/cli/check_params.py", "src/ganprint/config.py"]

EXAMPLE = """
ganprint check-params --params params.yaml
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("check-params", __doc__, EXAMPLE)

    def body(args, params):
        print(f"{args.params}: ok")
        print(f"  datasets:  {', '.join(params.datasets)}")
        print(f"  gans:      {len(params.gans)} ({', '.join(params.gans)})")
        print(f"  fingerprint autoencoders: {', '.join(params.train_fingerprint_autoencoder.datasets)}")
        print(
            f"  protocols: {', '.join(params.train_classifier.protocols)} × methods "
            f"{', '.join(params.train_classifier.methods)}"
        )

    return run(p, argv, body)
