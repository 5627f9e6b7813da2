"""Write params.yaml from a preset: workflow/presets/NAME.yaml over defaults.yaml (and re-render dvc.yaml)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import make_parser, run

EXAMPLE = """
ganprint preset celeba128            # paper scale, CelebA 128 px; then `snakemake ...` or `dvc repro`
ganprint preset tiny                 # the whole chain in about a minute on 2 cores
ganprint preset defaults             # back to the embedded CPU demo
ganprint preset lsun128 --out lsun.yaml   # another file: snakemake --config params=lsun.yaml
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("preset", __doc__, EXAMPLE)
    p.add_argument("name", help="preset name (a file in workflow/presets/)")
    p.add_argument("--out", type=Path, default=Path("params.yaml"), help="params file to write (default: params.yaml)")
    p.add_argument("--root", type=Path, default=Path("."), help="project root (default: .)")
    p.set_defaults(params=None)

    def body(args, _params):
        from ganprint.config import parse_params
        from ganprint.io import write_text
        from ganprint.presets import render
        from ganprint.stages import render_dvc

        text = render(args.name, args.root)
        write_text(args.out, text)
        print(f"{args.out}: preset {args.name}")
        if args.out.resolve() == (args.root / "params.yaml").resolve():
            import yaml

            # dvc.yaml holds one definition per gans group of params.yaml: keep it in step
            params = parse_params(yaml.safe_load(text), str(args.out))
            write_text(args.root / "dvc.yaml", render_dvc(params))
            print(f"{args.root / 'dvc.yaml'}: rendered")

    return run(p, argv, body, needs_params=False)
