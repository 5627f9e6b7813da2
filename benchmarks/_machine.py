"""What a benchmark JSON records about the machine and the libraries (shared by the benchmark scripts)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} logical CPUs"


def write_result(out: Path, result: dict) -> None:
    """Write a benchmark's JSON (sorted keys, trailing newline) to ``out`` and echo it on stdout."""
    import json

    text = json.dumps(result, indent=2, sort_keys=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
