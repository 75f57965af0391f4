"""The month folders as the UI reads them: through the output location's path object only.

`output_root()` is the output location exactly as the pipeline writes it (tthc.reports.store): a
local folder (`/data/output` or `file:///data/output`) or an object store (`s3://conn@bucket/
output`), both read through the same path API.

A file is served only when it is listed in its month's manifest.json, under the name the
manifest gives it: nothing a request says becomes a path otherwise, so `..`, absolute paths
and other folders of the disk are unreachable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tthc.orchestration import connections
from tthc.reports.month_folder import MANIFEST
from tthc.reports.store import Location

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}


def output_root() -> Location:
    """Where the month folders are: the pipeline's own reading of the Variable (connections.output_dir)."""
    return connections.output_dir()


def is_period(text: str) -> bool:
    return PERIOD.fullmatch(text) is not None


def month_folders(root: Location) -> list[str]:
    """The periods that have a folder (builds in progress, hidden, are not months yet)."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if is_period(p.name) and (p / MANIFEST).exists())


def manifest(root: Location, period: str) -> dict | None:
    """The month's manifest.json, or None when the month has no folder."""
    if not is_period(period):
        return None
    path = root / period / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class MonthFile:
    path: Location
    name: str  # as in the manifest: "ranking.pdf", "scorecards/000.00.10.H57.pdf"
    size: int
    sha256: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get("." + self.name.rsplit(".", 1)[-1], "application/octet-stream")


def month_file(root: Location, period: str, name: str) -> MonthFile | None:
    """The month's file called `name`, if the manifest lists it; None for anything else."""
    listed = manifest(root, period)
    if listed is None:
        return None
    for entry in listed.get("files", []):
        if entry["path"] == name:  # the manifest's own names: relative, no "..", written by us
            return MonthFile(root / period / entry["path"], entry["path"], entry["size"], entry["sha256"])
    return None


def read_json(root: Location, period: str, name: str) -> dict:
    """A JSON file of the month (quality.json), through the manifest like every other file."""
    found = month_file(root, period, name)
    if found is None:
        raise FileNotFoundError(f"{period}/{name} is not in the month's manifest")
    return json.loads(found.path.read_text(encoding="utf-8"))
