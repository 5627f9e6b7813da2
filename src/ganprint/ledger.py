"""A ledger that never lies: after a Snakemake run, record in dvc.lock exactly the stages that run built.

``dvc commit --force`` over the whole project would accept stale outputs as current (a classifier trained with
an old param). Instead: a DVC stage is recorded only when every one of its outputs was written by this run
(modification time after the run started: every stage writes its outputs atomically, fresh files), and only
when every stage upstream of it is current in DVC's eyes (already clean, or recorded just before it in
topological order). Everything else stays as DVC sees it: stale stages stay stale.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("ganprint")


def _written_since(stage, since: float) -> bool:
    outs = list(stage.outs)
    if not outs:
        return False
    for o in outs:
        try:
            if os.stat(o.fs_path).st_mtime < since:
                return False
        except FileNotFoundError:
            return False
    return True


def record(since: float, root: str = ".") -> list[str]:
    """Commit (``dvc commit --force --no-relink``) the stages whose outputs were all written after ``since``.

    Returns the addresses recorded; prints one line per stage held back because something upstream is stale.
    All of it happens under one DVC lock with one write of dvc.lock (a commit per stage re-reads the project).
    """
    import networkx as nx
    from dvc.repo import Repo, locked

    recorded: list = []

    @locked
    def commit(repo, stages) -> None:
        # what `dvc commit --force --no-relink <stage>` does, under one lock and one write per dvc.yaml
        for st in stages:
            st.save()
            st.commit(relink=False)
        by_file: dict = {}
        for st in stages:
            by_file.setdefault(st.dvcfile.path, (st.dvcfile, []))[1].append(st)
        for dvcfile, group in by_file.values():
            dvcfile.dump_stages(group, update_pipeline=False)

    with Repo(root) as repo:
        graph = repo.index.graph  # edges: stage → the stages it depends on
        ran = {s for s in graph.nodes if _written_since(s, since)}
        if not ran:
            return []
        status = repo.status()  # address → what changed, for every stale stage
        stale = {s for s in graph.nodes if s not in ran and s.addressing in status}
        order = list(reversed(list(nx.topological_sort(graph))))  # dependencies first
        done: set = set()
        for st in order:
            if st not in ran:
                continue
            upstream = nx.descendants(graph, st)
            bad = sorted(u.addressing for u in upstream if u in stale or (u in ran and u not in done))
            if bad:
                sys.stderr.write(
                    f"ganprint: {st.addressing} not recorded in dvc.lock: upstream stage(s) {', '.join(bad)} "
                    "are not current; run them (snakemake or dvc repro) and it will be\n"
                )
                continue
            done.add(st)
            recorded.append(st)
        commit(repo, recorded)
    return [st.addressing for st in recorded]
