"""The dossiers as Dagster partitions: one dynamic partition per dossier folder, kept in
step with `DOSSIERS_DIR` by the `dossiers_folder` sensor (automation.py).

A folder whose name is not a valid dossier name is never a partition (it cannot run);
`batisync dossiers` lists it as misconfigured.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import dagster as dg

from batisync.core.settings.dossiers import discover, dossiers_dir

DOSSIERS = dg.DynamicPartitionsDefinition(name="batisync_dossiers")


@dataclass(frozen=True)
class PartitionChanges:
    add: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()

    def requests(self) -> list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]:
        made: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
        if self.add:
            made.append(DOSSIERS.build_add_request(list(self.add)))
        if self.delete:
            made.append(DOSSIERS.build_delete_request(list(self.delete)))
        return made


@dataclass(frozen=True)
class Folder:
    """What the dossiers folder holds: the runnable names, and the folders that are not."""

    names: tuple[str, ...]
    invalid: tuple[str, ...] = ()


def scan(environ: Mapping[str, str] | None = None) -> Folder:
    """The dossiers of `DOSSIERS_DIR` (as `batisync dossiers` finds them)."""
    found = discover(dossiers_dir(environ))
    return Folder(
        names=tuple(d.name for d in found if d.problem is None),
        invalid=tuple(d.name for d in found if d.problem is not None),
    )


def partition_changes(known: Collection[str], on_disk: Collection[str]) -> PartitionChanges:
    """Partitions to add (new folders) and to delete (folders gone); pure."""
    return PartitionChanges(
        add=tuple(sorted(set(on_disk) - set(known))),
        delete=tuple(sorted(set(known) - set(on_disk))),
    )


__all__ = ["DOSSIERS", "Folder", "PartitionChanges", "partition_changes", "scan"]
