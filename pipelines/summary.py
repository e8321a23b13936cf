"""The end-of-build summary table: objects in, parts out, quarantined by reason, time per stage."""
from __future__ import annotations

import sys

from pipelines.run import BuildSummary


def print_summary(s: BuildSummary, file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout, width=110)
    table = Table(title=f"build {s.run_dir} ({s.executor}, {s.seconds:.1f} s)")
    for col in ("stage", "ran", "cached", "failed", "quarantined earlier", "seconds"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for name, c in s.stages.items():
        table.add_row(name, str(c["ran"]), str(c["cached"]), str(c["failed"]), str(c["quarantined"]), f"{c['seconds']:.2f}")
    console.print(table)
    console.print(f"objects in: {s.objects_in}   unique: {s.unique_objects}   duplicates: {len(s.duplicates)}   "
                  f"released objects: {s.released_objects}   parts out: {s.parts_out}   quarantined: {len(s.quarantined)}")
    reasons = s.quarantined_by_reason()
    if reasons:
        q = Table(title="quarantined by reason")
        q.add_column("stage: error")
        q.add_column("objects", justify="right")
        for reason, n in reasons.items():
            q.add_row(reason, str(n))
        console.print(q)
        console.print(f"details: partverse quarantine list --run {s.run_dir}")
