"""Test helper: a real S3 HTTP API (moto's server mode) on a free port, and an Airflow connection to it.

    with running_s3_server() as s3:
        root = s3.new_root()          # ObjectStoragePath("s3://<conn_id>@<fresh bucket>/out")
        s3.client.list_objects_v2(Bucket=root.bucket)

The server is a separate process speaking the S3 protocol over HTTP, so the pipeline reaches
it exactly as it would reach S3 or MinIO: through s3fs, with the credentials and endpoint of
an Airflow `aws` connection (AIRFLOW_CONN_<ID>, as an operator would set it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

ACCESS_KEY, SECRET_KEY, REGION = "tthc-test-key", "tthc-test-secret", "us-east-1"  # moto accepts any


def aws_connection(endpoint_url: str) -> str:
    """An Airflow `aws` connection (as AIRFLOW_CONN_<ID> JSON) for an S3-compatible endpoint."""
    return json.dumps({"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                       "extra": {"endpoint_url": endpoint_url, "region_name": REGION}})


@dataclass
class S3Server:
    endpoint_url: str
    conn_id: str

    @property
    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def new_bucket(self) -> str:
        name = f"tthc-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def new_root(self, prefix: str = "out"):
        """The output location of a fresh bucket, as Variable scorecard_output_dir would name it."""
        from tthc.reports.store import location

        return location(f"s3://{self.conn_id}@{self.new_bucket()}/{prefix}")

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix`, read back with boto3 (not through the pipeline's s3fs)."""
        client = self.client
        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", [])]
        return {k.removeprefix(prefix): client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


@contextmanager
def running_s3_server(host: str = "127.0.0.1", port: int = 0, conn_id: str = "tthc_s3",
                      timeout: float = 60) -> Iterator[S3Server]:
    """moto's S3 server as a subprocess; AIRFLOW_CONN_<CONN_ID> points at it while it runs."""
    if not port:
        import socket

        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below; a pipe would fill with moto's request log
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://{host}:{port}"
    env_name = f"AIRFLOW_CONN_{conn_id.upper()}"
    previous = os.environ.get(env_name)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"moto server exited with {proc.returncode}: {log.read().decode()[-2000:]}")
            try:
                requests.get(endpoint, timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"moto server did not answer on {endpoint} within {timeout:.0f} s") from None
                time.sleep(0.3)
        os.environ[env_name] = aws_connection(endpoint)
        yield S3Server(endpoint, conn_id)
    finally:
        if previous is None:
            os.environ.pop(env_name, None)
        else:
            os.environ[env_name] = previous
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
