"""The month folders as the UI reads them: through the output location's path object only.

`output_root()` is the one place that turns the Variable `scorecard_output_dir` into a path:
an Airflow ObjectStoragePath, so that a local folder (`/data/output` or `file:///data/output`)
and an object store (`s3://bucket/output`, with an Airflow connection) read the same way.

A file is served only when it is listed in its month's manifest.json, under the name the
manifest gives it: nothing a request says becomes a path otherwise, so `..`, absolute paths
and other folders of the disk are unreachable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from airflow.sdk import ObjectStoragePath

from tthc.orchestration.connections import OUTPUT_DIR_VARIABLE
from tthc.reports.month_folder import MANIFEST

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}


def output_root() -> ObjectStoragePath:
    """Where the month folders are: the Variable's value, a bare path read as a local folder."""
    from airflow.sdk import Variable

    location = Variable.get(OUTPUT_DIR_VARIABLE)
    return ObjectStoragePath(location if "://" in location else f"file://{location}")


def is_period(text: str) -> bool:
    return PERIOD.fullmatch(text) is not None


def month_folders(root: ObjectStoragePath) -> list[str]:
    """The periods that have a folder (builds in progress, hidden, are not months yet)."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if is_period(p.name) and (p / MANIFEST).exists())


def manifest(root: ObjectStoragePath, period: str) -> dict | None:
    """The month's manifest.json, or None when the month has no folder."""
    if not is_period(period):
        return None
    path = root / period / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class MonthFile:
    path: ObjectStoragePath
    name: str  # as in the manifest: "ranking.pdf", "scorecards/000.00.10.H57.pdf"
    size: int
    sha256: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get("." + self.name.rsplit(".", 1)[-1], "application/octet-stream")


def month_file(root: ObjectStoragePath, period: str, name: str) -> MonthFile | None:
    """The month's file called `name`, if the manifest lists it; None for anything else."""
    listed = manifest(root, period)
    if listed is None:
        return None
    for entry in listed.get("files", []):
        if entry["path"] == name:  # the manifest's own names: relative, no "..", written by us
            return MonthFile(root / period / entry["path"], entry["path"], entry["size"], entry["sha256"])
    return None


def read_json(root: ObjectStoragePath, period: str, name: str) -> dict:
    """A JSON file of the month (quality.json), through the manifest like every other file."""
    found = month_file(root, period, name)
    if found is None:
        raise FileNotFoundError(f"{period}/{name} is not in the month's manifest")
    return json.loads(found.path.read_text(encoding="utf-8"))
