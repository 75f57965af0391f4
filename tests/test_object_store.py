"""The month on an object store (issue 16, workers that share no disk), against a real S3 HTTP API.

moto's server mode runs as its own process on loopback; the pipeline reaches it through
Airflow's ObjectStoragePath and s3fs with an `aws` connection, as it would reach S3 or MinIO,
and every check reads the store back with boto3, not through the code under test. The
warehouse is the hand-built province of test_monthly_folder, whose local month is the
reference: the store must hold the same files, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_delivery import OFFICE_TO, attachments, envelope, ledger, use_config, zip_members
from test_monthly_folder import ACTIVE, BUILT_AT, EXPECTED_FILES, PERIOD, build_month, copy_month, snapshot

from tthc.delivery.office import deliver_month
from tthc.orchestration.connections import SmtpEndpoint
from tthc.reports import month_folder, store
from tthc.reports.month_folder import (
    finish_month_folder,
    read_manifest,
    render_scorecards,
    start_month_folder,
    unit_batches,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    return build_month(tmp_path_factory.mktemp("month"))


@pytest.fixture
def warehouse(built, tmp_path):
    engine, out = copy_month(built, tmp_path)
    yield engine, out
    engine.dispose()


def build_on_store(engine: sa.Engine, root, built_at=BUILT_AT, build_id: str = "b1"):
    """The DAG's steps as separate calls, as on separate workers: start, one render per batch of units."""
    staging = start_month_folder(engine, PERIOD, root, built_at, build_id)
    for batch in unit_batches(list(ACTIVE), 2):
        render_scorecards(engine, PERIOD, store.location(str(staging)), built_at, batch, workers=1)
    return staging


def test_the_setting_names_a_local_folder_or_an_object_store():
    from airflow.sdk import ObjectStoragePath

    assert store.location("/srv/tthc/output") == Path("/srv/tthc/output")
    assert store.location("var/embedded/output") == Path("var/embedded/output")  # as before: relative to cwd
    assert store.location("file:///srv/tthc/output") == Path("/srv/tthc/output")
    remote = store.location("s3://aws_default@tthc-bucket/scorecards")
    assert isinstance(remote, ObjectStoragePath)
    assert (remote.conn_id, remote.bucket, remote.key) == ("aws_default", "tthc-bucket", "scorecards")
    # the text a task passes to the next through XCom keeps the connection
    assert (store.location(str(remote / ".2025-09.build-x")).conn_id) == "aws_default"
    with pytest.raises(ValueError, match=r"no Airflow filesystem for 'gs://'.*apache-airflow-providers-amazon"):
        store.location("gs://tthc-bucket/scorecards")


def test_the_month_is_published_to_the_store_whole_and_reads_back(warehouse, s3_server):
    engine, local_out = warehouse
    root = s3_server.new_root()
    staging = build_on_store(engine, root)
    # built but not published: only the hidden staging prefix is there, no month for a reader
    assert {k.split("/")[0] for k in s3_server.objects(root.bucket, "out/")} == {".2025-09.build-b1"}
    with pytest.raises(FileNotFoundError):
        read_manifest(root / PERIOD)

    folder = finish_month_folder(engine, PERIOD, staging, BUILT_AT)
    assert str(folder) == f"s3://{s3_server.conn_id}@{root.bucket}/out/{PERIOD}"
    stored = s3_server.objects(root.bucket, "out/")
    assert set(stored) == {f"{PERIOD}/{name}" for name in EXPECTED_FILES}  # the staging prefix is gone
    # the same warehouse and build time give the same bytes as on a local disk, manifest included
    assert {name.removeprefix(f"{PERIOD}/"): data for name, data in stored.items()} == snapshot(local_out / PERIOD)
    manifest = json.loads(stored[f"{PERIOD}/manifest.json"])
    assert manifest["delivery"] == {"status": "pending"} and manifest["built_at"] == BUILT_AT.isoformat()
    for entry in manifest["files"]:
        data = stored[f"{PERIOD}/{entry['path']}"]
        assert (entry["sha256"], entry["size"]) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_render_retry_on_another_worker_overwrites_its_batch(warehouse, s3_server):
    engine, _ = warehouse
    root = s3_server.new_root()
    staging = build_on_store(engine, root)
    before = s3_server.objects(root.bucket, "out/.2025-09.build-b1/scorecards/")
    render_scorecards(engine, PERIOD, store.location(str(staging)), BUILT_AT, [ACTIVE[0]], workers=1)
    assert s3_server.objects(root.bucket, "out/.2025-09.build-b1/scorecards/") == before
    finish_month_folder(engine, PERIOD, staging, BUILT_AT)
    assert {f["path"] for f in read_manifest(root / PERIOD)["files"]} == EXPECTED_FILES - {"manifest.json"}


def test_a_missing_scorecard_stops_the_publication(warehouse, s3_server):
    engine, _ = warehouse
    root = s3_server.new_root()
    staging = start_month_folder(engine, PERIOD, root, BUILT_AT, "b1")
    render_scorecards(engine, PERIOD, staging, BUILT_AT, list(ACTIVE[:2]), workers=1)  # one batch never ran
    with pytest.raises(RuntimeError, match=rf"1 scorecard\(s\) missing .*{ACTIVE[2]}"):
        finish_month_folder(engine, PERIOD, staging, BUILT_AT)
    assert not [k for k in s3_server.objects(root.bucket, "out/") if k.startswith(PERIOD)]


def test_a_republish_that_fails_midway_withdraws_the_month_and_its_retry_publishes_it(
        warehouse, s3_server, monkeypatch):
    engine, _ = warehouse
    root = s3_server.new_root()
    finish_month_folder(engine, PERIOD, build_on_store(engine, root), BUILT_AT)
    s3_server.client.put_object(Bucket=root.bucket, Key=f"out/{PERIOD}/stray.txt", Body=b"left by hand")
    rebuilt_at = BUILT_AT.replace(day=3)
    staging = build_on_store(engine, root, rebuilt_at, "b2")

    copies = []
    real_copy = store.copy

    def network_drops_after_three(src, dest):
        if len(copies) == 3:
            raise OSError("connection reset by peer")
        copies.append(dest)
        real_copy(src, dest)

    monkeypatch.setattr(store, "copy", network_drops_after_three)
    with pytest.raises(OSError, match="connection reset"):
        finish_month_folder(engine, PERIOD, staging, rebuilt_at)
    # midway: three new files are in, the old manifest is gone, so no reader takes the mixture for a month
    stored = s3_server.objects(root.bucket, "out/")
    assert f"{PERIOD}/manifest.json" not in stored and len(copies) == 3
    with pytest.raises(FileNotFoundError):
        deliver_month(engine, root / PERIOD, PERIOD, None, send_mail=False)
    assert f".{PERIOD}.build-b2/manifest.json" in stored  # the staging prefix is whole for the retry

    monkeypatch.setattr(store, "copy", real_copy)
    finish_month_folder(engine, PERIOD, staging, rebuilt_at)  # Airflow's retry of the task
    stored = s3_server.objects(root.bucket, "out/")
    assert set(stored) == {f"{PERIOD}/{name}" for name in EXPECTED_FILES}  # the stray file went, no staging left
    assert read_manifest(root / PERIOD)["built_at"] == rebuilt_at.isoformat()


@pytest.fixture
def published(warehouse, s3_server, tmp_path, monkeypatch):
    engine, _ = warehouse
    use_config(tmp_path, monkeypatch)
    root = s3_server.new_root()
    finish_month_folder(engine, PERIOD, build_on_store(engine, root), BUILT_AT)
    return engine, root


def test_delivery_sends_the_month_as_the_store_holds_it_once(published, s3_server, smtp_server):
    engine, root = published
    host, port, inbox = smtp_server
    smtp = SmtpEndpoint(host, port, None, None, False)
    outcome = deliver_month(engine, root / PERIOD, PERIOD, smtp, send_mail=True)
    assert outcome["status"] == "sent" and outcome["sent"] == ["office/1of1"]
    stored = s3_server.objects(root.bucket, f"out/{PERIOD}/")
    [msg] = inbox.messages
    assert OFFICE_TO[0] in envelope(msg)
    files = attachments(msg)
    assert (files["ranking.pdf"], files["ranking.xlsx"]) == (stored["ranking.pdf"], stored["ranking.xlsx"])
    assert zip_members(files[f"phieu-danh-gia-{PERIOD}.zip"]) == \
        {f"scorecards/{u}.pdf": stored[f"scorecards/{u}.pdf"] for u in ACTIVE}
    # the delivery's outcome is recorded in the store's manifest; a second run sends nothing
    assert json.loads(stored["manifest.json"])["delivery"]["status"] == "sent"
    again = deliver_month(engine, root / PERIOD, PERIOD, smtp, send_mail=True)
    assert again["sent"] == [] and again["already_sent"] == ["office/1of1"]
    assert len(inbox.messages) == 1 and ledger(engine) == [("office/1of1", "sent")]


def test_delivery_refuses_a_file_that_no_longer_matches_the_manifest(published, s3_server, smtp_server):
    engine, root = published
    host, port, inbox = smtp_server
    # as a republication under way would leave it: a new scorecard beside the old manifest
    s3_server.client.put_object(Bucket=root.bucket, Key=f"out/{PERIOD}/scorecards/{ACTIVE[1]}.pdf", Body=b"%PDF-new")
    with pytest.raises(RuntimeError, match=rf"scorecards/{ACTIVE[1]}.pdf no longer matches the month's manifest"):
        deliver_month(engine, root / PERIOD, PERIOD, SmtpEndpoint(host, port, None, None, False), send_mail=True)
    assert inbox.messages == [] and ledger(engine) == []  # nothing sent, nothing claimed


def test_leftover_builds_of_the_month_are_removed_by_the_next_start(warehouse, s3_server):
    engine, _ = warehouse
    root = s3_server.new_root()
    build_on_store(engine, root, build_id="killed")  # a run killed before finishing left its staging
    finish_month_folder(engine, PERIOD, build_on_store(engine, root, build_id="b2"), BUILT_AT)
    assert {k.split("/")[0] for k in s3_server.objects(root.bucket, "out/")} == {PERIOD}
    assert month_folder.published_files(root / PERIOD).keys() == EXPECTED_FILES - {"manifest.json"}
