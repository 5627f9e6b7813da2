"""Presets as overlays: ``workflow/presets/NAME.yaml`` holds only what differs from ``defaults.yaml``.

Merge rules: mappings merge key by key, lists and scalars replace, ``null`` deletes a key (an overlay drops the
demo's datasets with ``skimage: null``). The result keeps the comments of both files (ruamel.yaml round trip),
so the written params.yaml is documented like the defaults.
"""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from ganprint.config import ConfigError, parse_params

PRESETS = Path("workflow/presets")
DEFAULTS = "defaults"


def names(root: Path = Path(".")) -> list[str]:
    return sorted(p.stem for p in (root / PRESETS).glob("*.yaml"))


def _merge(base: CommentedMap, over: CommentedMap) -> None:
    for key, value in over.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
            if key in over.ca.items:  # keep the overlay's end-of-line comment for what it sets
                base.ca.items[key] = over.ca.items[key]


def render(name: str, root: Path = Path(".")) -> str:
    """params.yaml text of preset ``name`` (validated; raises ConfigError naming the preset on a bad key)."""
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    # a null value (train_gan.data_seed: null) is written as `null`, as in defaults.yaml, not as an empty value
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    directory = root / PRESETS
    if not directory.is_dir():
        raise ConfigError(f"{directory}/: no presets folder here; run from the project root or pass --root")
    if name not in names(root):
        raise ConfigError(f"no preset {name!r} in {directory}/; presets: {', '.join(names(root))}")
    data = yaml.load((directory / f"{DEFAULTS}.yaml").read_text(encoding="utf-8"))
    if name != DEFAULTS:
        over = yaml.load((directory / f"{name}.yaml").read_text(encoding="utf-8")) or CommentedMap()
        _merge(data, over)
    parse_params(_plain(data), f"{directory}/{name}.yaml over {DEFAULTS}.yaml")
    buf = io.StringIO()
    yaml.dump(data, buf)
    text = buf.getvalue()
    if name != DEFAULTS:
        text = (
            f"# preset {name}: written by `ganprint preset {name}` from {PRESETS}/{name}.yaml over "
            f"{DEFAULTS}.yaml; `ganprint preset {DEFAULTS}` restores the demo.\n" + text
        )
    return text


def _plain(node):
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
