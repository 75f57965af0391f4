"""Test helper: the real national services mock on a free loopback port.

    with running_national_mock("sqlite:///national.db", "secret") as base_url:
        requests.get(f"{base_url}/api/v1/feedback", params={"province": "H57"},
                     headers={"Authorization": "Bearer secret"})

Faults can be set at start (`faults=Faults(...)`) or flipped on the running server with
`set_faults(base_url, token, Faults(...))` / `clear_faults(base_url, token)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tthc.sim.national_mock import BackgroundServer, Faults, create_app


@contextmanager
def running_national_mock(db_url: str, token: str, faults: Faults | None = None) -> Iterator[str]:
    """Serve the store at `db_url` with uvicorn in a background thread; yields the base URL."""
    app = create_app(db_url, token, faults)
    server = BackgroundServer(app)
    base_url = server.start()
    try:
        yield base_url
    finally:
        server.stop()
        app.state.store.dispose()


def set_faults(base_url: str, token: str, faults: Faults) -> dict:
    """Replace the running server's faults; returns them as the server now holds them."""
    answer = requests.post(f"{base_url}/_admin/faults", json=dataclasses.asdict(faults),
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def clear_faults(base_url: str, token: str) -> dict:
    answer = requests.delete(f"{base_url}/_admin/faults", headers={"Authorization": f"Bearer {token}"},
                             timeout=10)
    answer.raise_for_status()
    return answer.json()
