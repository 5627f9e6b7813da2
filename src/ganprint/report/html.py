"""The static ``results/index.html`` (issue 9 §6): every paper table as an HTML table with its title and notes, every
figure as an image with its caption, grouped by section; relative links, no external CSS or JavaScript (it works
offline from ``file://``), and the same inputs give the same bytes (no date, no version)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from ganprint.io import atomic_path

# figure sections in page order; figure_section() sorts a figure into one of them by its path
SECTIONS = (
    "Confusion matrices",
    "Robustness curves",
    "Training curves",
    "Sample grids",
    "t-SNE",
    "Grad-CAM / CAM",
    "Fingerprint visualisation",
    "Fingerprint robustness",
    "Other figures",
)
TABLE_SUFFIXES = (".md", ".csv", ".tex")

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.1em; margin-bottom: .3em; }
nav ul { columns: 2; } .files { font-size: .85em; color: #555; }
table.data { border-collapse: collapse; font-size: .8em; margin: .5em 0; }
table.data th, table.data td { border: 1px solid #bbb; padding: .2em .5em; text-align: left; vertical-align: top; }
table.data thead th { background: #eef; } table.data tbody tr:nth-child(even) { background: #f7f7f7; }
.scroll { overflow-x: auto; }
figure { display: inline-block; vertical-align: top; margin: .5em 1em 1em 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; max-width: 60em; }
""".strip()


def figure_section(path: str | Path) -> str:
    """The section of :data:`SECTIONS` a figure goes in, from its file name and folder (the pipeline's paths)."""
    p = Path(path).as_posix()
    name = Path(p).name
    if name.startswith("confusion_"):
        return "Confusion matrices"
    if "fingerprint_robustness/" in p:
        return "Fingerprint robustness"
    if name.startswith("robustness_"):
        return "Robustness curves"
    if name.startswith("training_") or name == "gans_training.png":
        return "Training curves"
    if name.startswith("sources_") or name == "samples.png":
        return "Sample grids"
    if name == "tsne.png":
        return "t-SNE"
    if name == "cam.png":
        return "Grad-CAM / CAM"
    if name == "fingerprints.png":
        return "Fingerprint visualisation"
    return "Other figures"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _md_parts(text: str) -> tuple[str, list[str], list[str]]:
    """A make_tables Markdown file → (title, notes, pipe-table lines): ``# title``, the table, ``- note`` lines."""
    title, notes, rows = "", [], []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("# ") and not title:
            title = s[2:].strip()
        elif s.startswith("|"):
            rows.append(s)
        elif s.startswith(("- ", "* ")) and rows:
            notes.append(s[2:].strip())
        elif s and not rows and title:
            notes.append(s)  # prose between the title and the table
    return title, notes, rows


def _pipe_table(rows: list[str]) -> pd.DataFrame:
    """A Markdown pipe table (header, ``|---|`` line, body) as strings."""

    def cells(line: str) -> list[str]:
        return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]

    if len(rows) < 2:
        return pd.DataFrame()
    header = cells(rows[0])
    body = [cells(r) for r in rows[2:]]
    return pd.DataFrame(body, columns=header)


def read_table(path: str | Path) -> tuple[str, list[str], pd.DataFrame]:
    """A results table as (title, notes, data as strings).

    The data come from the ``.csv`` beside ``path`` when there is one (the exact values), else from the Markdown pipe
    table; title and notes from the ``.md`` beside it (``# title`` line, ``- note`` lines), else the file stem.

    Raises:
        FileNotFoundError: neither a ``.csv`` nor a ``.md`` of that name exists.
    """
    path = Path(path)
    csv, md = path.with_suffix(".csv"), path.with_suffix(".md")
    if not csv.exists() and not md.exists():
        raise FileNotFoundError(f"{path}: no table (.csv or .md) of that name")
    title, notes, rows = _md_parts(md.read_text(encoding="utf-8")) if md.exists() else ("", [], [])
    if csv.exists():
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    else:
        df = _pipe_table(rows)
    return title or path.stem, notes, df


def _href(target: Path, base: Path) -> str:
    """A relative URL from the folder ``base`` to ``target`` (forward slashes, percent-encoded)."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(base))
    return quote(Path(rel).as_posix(), safe="/")


def _resolve(root: Path, p: Path) -> Path:
    return p if p.is_absolute() else root / p


def _display(root: Path, p: Path) -> str:
    """The path as the page shows it: relative to root when it is under it."""
    try:
        return Path(os.path.relpath(os.path.abspath(p), os.path.abspath(root))).as_posix()
    except ValueError:  # another drive on Windows
        return p.as_posix()


def write_index(
    root: Path,
    out: Path,
    tables: list[Path],
    figures: Sequence[tuple[Path, str] | tuple[Path, str, str]],
    *,
    title: str = "ganprint results",
) -> None:
    """Write the static results page ``out``.

    Args:
        root: the project root; relative paths in ``tables`` and ``figures`` are relative to it.
        out: the HTML file (``results/index.html``); every link in it is relative to its folder.
        tables: results tables, one path per table (``<name>.md`` or ``.csv``; see :func:`read_table`), page order.
        figures: ``(png, caption)`` or ``(png, caption, section)``; without a section, :func:`figure_section` picks
            it. Figures keep their given order inside their section; sections follow :data:`SECTIONS` (unknown
            sections after them, in order of appearance).

    Raises:
        FileNotFoundError: a table or a figure is missing.
    """
    root, out = Path(root), Path(out)
    base = out.parent
    body: list[str] = []
    toc: list[str] = []
    esc = html.escape

    if tables:
        toc.append('<li><a href="#tables">Tables</a><ul>')
        body.append('<section id="tables">\n<h2>Tables</h2>')
        seen: set[str] = set()
        for t in tables:
            t = _resolve(root, Path(t))
            name, notes, df = read_table(t)
            anchor = "table-" + _slug(t.stem)
            while anchor in seen:
                anchor += "-x"
            seen.add(anchor)
            files = [t.with_suffix(s) for s in TABLE_SUFFIXES if t.with_suffix(s).exists()]
            links = " · ".join(f'<a href="{esc(_href(f, base))}">{esc(f.suffix[1:])}</a>' for f in files)
            table_html = df.to_html(index=False, escape=True, border=0, na_rep="", classes="data", table_id=anchor)
            note_html = "".join(f"<li>{esc(n)}</li>" for n in notes)
            body.append(
                f'<article>\n<h3>{esc(name)}</h3>\n<p class="files">{esc(_display(root, t.with_suffix("")))}: '
                f'{links}</p>\n<div class="scroll">\n{table_html}\n</div>\n'
                + (f'<ul class="notes">{note_html}</ul>\n' if notes else "")
                + "</article>"
            )
            toc.append(f'<li><a href="#{anchor}">{esc(name)}</a></li>')
        body.append("</section>")
        toc.append("</ul></li>")

    groups: dict[str, list[tuple[Path, str]]] = {}
    for item in figures:
        png, caption = Path(item[0]), str(item[1])
        section = item[2] if len(item) > 2 else figure_section(png)
        png = _resolve(root, png)
        if not png.is_file():
            raise FileNotFoundError(f"{png}: figure missing")
        groups.setdefault(section, []).append((png, caption))
    order = [s for s in SECTIONS if s in groups] + [s for s in groups if s not in SECTIONS]
    for section in order:
        anchor = "fig-" + _slug(section)
        toc.append(f'<li><a href="#{anchor}">{esc(section)}</a> ({len(groups[section])})</li>')
        body.append(f'<section id="{anchor}">\n<h2>{esc(section)}</h2>')
        for png, caption in groups[section]:
            src = esc(_href(png, base))
            body.append(
                f'<figure>\n<a href="{src}"><img src="{src}" alt="{esc(caption)}"></a>\n'
                f'<figcaption>{esc(caption)} <span class="files">({esc(_display(root, png))})</span></figcaption>\n'
                "</figure>"
            )
        body.append("</section>")

    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
        f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{esc(title)}</h1>\n"
        f"<nav>\n<ul>\n{chr(10).join(toc)}\n</ul>\n</nav>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
