"""Vectorised text forms of instants (int64 seconds of naive local time; negative = missing)."""

from __future__ import annotations

import numpy as np

MISSING = np.int64(-1)
UTC_OFFSET = 7 * 3600


def _iso19(t: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS' as a (n, 19) array of characters."""
    s = np.datetime_as_string(np.maximum(t, 0).astype("datetime64[s]"), unit="s")
    return s.astype("U19").view("U1").reshape(len(t), 19)


def _join(chars: np.ndarray, width: int) -> np.ndarray:
    return np.ascontiguousarray(chars).view(f"U{width}").ravel()


def _with_missing(text: np.ndarray, t: np.ndarray, missing=None) -> np.ndarray:
    out = text.astype(object)
    out[t < 0] = missing
    return out


def sql_ts(t: np.ndarray) -> np.ndarray:
    """Replica timestamps: 'YYYY-MM-DD HH:MM:SS' local, None when missing."""
    chars = _iso19(t)
    chars[:, 10] = " "
    return _with_missing(_join(chars, 19), t)


def sql_date(days: np.ndarray) -> np.ndarray:
    """Dates from day numbers since the epoch: 'YYYY-MM-DD', None when missing."""
    return _with_missing(np.datetime_as_string(np.maximum(days, 0).astype("datetime64[D]")), days)


def compact(t: np.ndarray) -> np.ndarray:
    """The sync feed's yyyyMMddHHmmss; an empty string when missing (as the portal sends it)."""
    chars = _iso19(t)
    keep = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
    return _with_missing(_join(chars[:, keep], 14), t, "")


def iso(t: np.ndarray, style: np.ndarray | None = None) -> np.ndarray:
    """National ISO times: style 0 '+07:00' offset, 1 UTC 'Z', 2 local without offset; None when missing."""
    style = np.zeros(len(t), dtype=np.int8) if style is None else style
    shifted = np.where(style == 1, t - UTC_OFFSET, t)
    base = _join(_iso19(shifted), 19).astype(object)
    suffix = np.array(["+07:00", "Z", ""], dtype=object)[style]
    return _with_missing(base + suffix, t)


def sort_ts(t: np.ndarray) -> np.ndarray:
    """The national store's ordering key: the instant in UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'."""
    return _join(_iso19(t - UTC_OFFSET), 19).astype(object) + ".000000Z"
