"""Validate params.yaml and print what the pipeline will build (no job runs)."""

from __future__ import annotations

from ganprint.cli._common import make_parser, run

EXAMPLE = """
ganprint check-params --params params.yaml
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("check-params", __doc__, EXAMPLE)

    def body(args, params):
        from ganprint.stages import STAGES, expand

        print(f"{args.params}: ok")
        print(f"  datasets:     {', '.join(params.datasets)}")
        for group, grp in params.gans.items():
            n = len(grp.dataset) * len(grp.arch) * len(grp.loss) * len(grp.variant) * len(grp.seed)
            print(f"  gans.{group}: {n}")
        for name in params.gan_list:
            print(f"    gan/{name}")
        print(f"  autoencoders: {', '.join(params.autoencoders)}")
        print("  attribution protocols:")
        for name in params.attribution.protocols:
            x = params.train_protocol(name)
            how = f"classifiers of {x}" if x != name else f"seeds {params.protocol_seeds(name)}"
            print(f"    {name:<16} {', '.join(params.protocol_methods(name))} ({how})")
        print("  jobs per stage:")
        for st in STAGES.values():
            print(f"    {st.name:<30} {len(expand(st, params))}")

    return run(p, argv, body)
