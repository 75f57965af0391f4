"""National records consistent with the replica: ministry decisions and provincial
announcements (công bố TTHC), national publications, the dossier sync mirror, feedback
(phản ánh, kiến nghị) and dossier ratings, with defects and feed quirks planted.

National time fields are text as the services serve them (see national_store); instants
here are int64 seconds of naive local time, -1 when missing.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np

from tthc.calendar import WorkingCalendar
from tthc.sim.dossiers import DAY, Context, _planted, _uniform
from tthc.sim.reference import PROVINCE, responsible_department
from tthc.sim.settings import GeneratorConfig
from tthc.sim.textfmt import compact, iso, sort_ts, sql_date
from tthc.sim.worktime import EPOCH, day_seconds

STALE_STATUS = np.array([1, 1, 1, 1, 2, 4, 4, 4, 4, 4, 9])  # an earlier status, indexed by status


def time_styles(rng, n: int, dirty: dict[str, float]) -> np.ndarray:
    """0 '+07:00', 1 'Z' UTC, 2 local without offset, at the configured shares."""
    u = rng.random(n)
    z, local = dirty["utc_z_time"], dirty["local_time_without_offset"]
    return np.where(u < z, 1, np.where(u < z + local, 2, 0)).astype(np.int8)


def malform(rng, values: np.ndarray, rate: float, counter: dict) -> np.ndarray:
    """Replace a share of non-empty time strings by unreadable ones (a feed's bad records)."""
    bad = (rng.random(len(values)) < rate) & np.array([bool(v) for v in values], dtype=bool)
    counter["malformed_feed_time"] = counter.get("malformed_feed_time", 0) + int(bad.sum())
    out = values.copy()
    out[bad] = np.array(["2025-13-45", "20251399999999", "not available", "04/03/2025 09:15"], dtype=object)[
        rng.integers(0, 4, int(bad.sum()))
    ]
    return out


def synced_dossiers(ctx: Context, d: dict, unit: np.ndarray, config: GeneratorConfig, planted, dirty) -> dict:
    """The national portal's copy of the replica's dossiers: some missing, some stale, some twice."""
    rng, n_units, now = ctx.rng, len(ctx.province.units), ctx.now
    rate = ctx.province.rates
    n = len(unit)
    missing = rng.random(n) < rate["sync_missing"][unit]
    stale = ~missing & (d["status"] > 1) & (rng.random(n) < rate["sync_stale"][unit])
    planted["sync_missing"] = _planted(missing, unit, n_units)
    planted["sync_stale"] = _planted(stale, unit, n_units)
    status = np.where(stale, STALE_STATUS[d["status"]], d["status"])
    result_at = np.where(stale & (status < 9), -1, d["completed_at"])
    synced_at = np.minimum(d["updated_at"] + _uniform(rng, n, 60, 3600), now - 1)
    rows = np.flatnonzero(~missing)
    older = rows[rng.random(len(rows)) < 0.1]  # an earlier version of some records
    idx = np.r_[rows, older]
    version_status = np.r_[status[rows], np.minimum(status[older], 2)]
    version_at = np.r_[synced_at[rows], np.maximum(d["submitted_at"][older] + 600, 0)]
    version_result = np.r_[result_at[rows], np.full(len(older), -1)]
    version_due = np.r_[d["due_at"][rows], np.full(len(older), -1)]
    keys = d["dossier_code"][idx].copy()
    empty = rng.random(len(idx)) < config.dirty["empty_feed_key"]
    keys[empty] = ""
    dirty["empty_feed_key"] = dirty.get("empty_feed_key", 0) + int(empty.sum())
    rate_bad = config.dirty["malformed_feed_time"]
    return {
        "province": np.full(len(idx), PROVINCE, dtype=object),
        "MaHoSo": keys,
        "MaTTHC": d["procedure_code"][idx],
        "MaDonVi": d["unit_code"][idx],
        "TrangThaiHoSo": version_status.astype(str).astype(object),
        "NgayTiepNhan": malform(rng, compact(d["received_at"][idx]), rate_bad, dirty),
        "NgayHenTra": malform(rng, compact(version_due), rate_bad, dirty),
        "NgayCoKetQua": compact(version_result),
        "DongBoLuc": compact(version_at),
        "updated_at": iso(version_at, time_styles(rng, len(idx), config.dirty)),
        "sort_ts": sort_ts(version_at),
    }


def dossier_ratings(ctx: Context, d: dict, unit: np.ndarray, config: GeneratorConfig, planted) -> dict:
    """Ratings (1-5) of some completed dossiers; a few changed later (a second version)."""
    rng, n_units, now = ctx.rng, len(ctx.province.units), ctx.now
    done = d["completed_at"] >= 0
    rated_at = d["completed_at"] + _uniform(rng, len(unit), 600, 3 * DAY)
    rows = np.flatnonzero(done & (rng.random(len(unit)) < 0.1) & (rated_at < now))
    low = rng.random(len(rows)) < ctx.province.rates["low_rating"][unit[rows]]
    planted["low_rating"] = _planted(low, unit[rows], n_units)
    rating = np.where(
        low, rng.integers(1, 3, len(rows)), rng.choice([3, 4, 5], len(rows), p=[0.15, 0.35, 0.5])
    )
    changed = rng.random(len(rows)) < 0.03
    c = np.flatnonzero(changed)
    at = rated_at[rows]
    latest_update = np.where(changed, np.minimum(at + _uniform(rng, len(rows), 3600, 5 * DAY), now - 1), at)
    idx = np.r_[rows, rows[c]]
    updated = np.r_[latest_update, at[c]]
    styles = time_styles(rng, len(idx), config.dirty)
    return {
        "province": np.full(len(idx), PROVINCE, dtype=object),
        "MaHoSo": d["dossier_code"][idx],
        "rating": np.r_[rating, 6 - rating[c]],
        "rated_at": iso(np.r_[at, at[c]], styles),
        "updated_at": iso(updated, styles),
        "sort_ts": sort_ts(updated),
    }


def feedback(
    ctx: Context, d: dict, unit: np.ndarray, first_id: int, config: GeneratorConfig, planted
) -> dict:
    """Feedback on units (PAKN): one row per version (received, forwarded, published)."""
    rng, prov, now = ctx.rng, ctx.province, ctx.now
    n_units = len(prov.units)
    pick = np.flatnonzero(rng.random(len(unit)) < 0.006)
    m = len(pick)
    fu = unit[pick]
    received = d["submitted_at"][pick] + _uniform(rng, m, DAY, 20 * DAY)
    forwarded = np.where(rng.random(m) < 0.97, received + _uniform(rng, m, 3600, 4 * DAY), -1)
    deadline_end = (forwarded // DAY + 16) * DAY  # 00:00 after the local date of forwarding + 15 days
    late = rng.random(m) < prov.rates["late_feedback_answer"][fu]
    published = np.where(
        forwarded < 0,
        -1,
        np.where(
            late, deadline_end + _uniform(rng, m, 3600, 25 * DAY), forwarded + _uniform(rng, m, DAY, 13 * DAY)
        ),
    )
    answered = np.where(published < 0, -1, published - _uniform(rng, m, 0, 2 * DAY))
    unhappy = rng.random(m) < prov.rates["dissatisfied_feedback"][fu]
    rating = np.where(
        unhappy,
        "dissatisfied",
        rng.choice(np.array(["satisfied", "neutral", None], dtype=object), m, p=[0.7, 0.2, 0.1]),
    )
    ids = np.array([f"PAKN-{PROVINCE}-{first_id + i:07d}" for i in range(m)], dtype=object)
    repeat = (published >= 0) & (rng.random(m) < prov.rates["repeat_feedback"][fu])
    about = np.where(rng.random(m) < 0.4, d["dossier_code"][pick], None)
    # A repeat (phản ánh lặp lại) arrives after the answer and names the earlier item.
    r = np.flatnonzero(repeat)
    ids = np.r_[
        ids, np.array([f"PAKN-{PROVINCE}-{first_id + m + i:07d}" for i in range(len(r))], dtype=object)
    ]
    fu_all = np.r_[fu, fu[r]]
    received = np.r_[received, published[r] + _uniform(rng, len(r), DAY, 10 * DAY)]
    forwarded = np.r_[forwarded, np.full(len(r), -1)]
    published = np.r_[published, np.full(len(r), -1)]
    answered = np.r_[answered, np.full(len(r), -1)]
    rating = np.r_[rating, np.full(len(r), None, dtype=object)]
    repeat_of = np.r_[np.full(m, None, dtype=object), ids[r]]
    about = np.r_[about, about[r]]
    late_all, unhappy_all = np.r_[late, np.zeros(len(r), bool)], np.r_[unhappy, np.zeros(len(r), bool)]
    see = lambda t: np.where((t >= 0) & (t < now), t, -1)  # noqa: E731
    received, forwarded, answered, published = see(received), see(forwarded), see(answered), see(published)
    alive = received >= 0
    planted["late_feedback_answer"] = _planted(late_all & alive & (forwarded >= 0), fu_all, n_units)
    planted["dissatisfied_feedback"] = _planted(unhappy_all & (published >= 0), fu_all, n_units)
    planted["repeat_feedback"] = _planted(np.isin(ids, repeat_of[received >= 0]), fu_all, n_units)
    versions = []  # (row, stage): 0 received, 1 forwarded, 2 published (what each version shows)
    for stage, at in enumerate((received, forwarded, published)):
        rows = np.flatnonzero(alive & (at >= 0))
        versions.append((rows, np.full(len(rows), stage), at[rows]))
    rows = np.concatenate([v[0] for v in versions])
    stage = np.concatenate([v[1] for v in versions])
    updated = np.concatenate([v[2] for v in versions]) + 60
    styles = time_styles(rng, len(rows), config.dirty)
    shown = lambda t, s: np.where(stage >= s, t[rows], -1)  # noqa: E731
    return {
        "province": np.full(len(rows), PROVINCE, dtype=object),
        "feedback_id": ids[rows],
        "unit_code": np.array([u.code for u in prov.units], dtype=object)[fu_all[rows]],
        "received_at": iso(received[rows], styles),
        "forwarded_at": iso(shown(forwarded, 1), styles),
        "answered_at": iso(shown(answered, 2), styles),
        "published_at": iso(shown(published, 2), styles),
        "rating": np.where(stage >= 2, rating[rows], None),
        "repeat_of": repeat_of[rows],
        "dossier_code": about[rows],
        "updated_at": iso(updated, styles),
        "sort_ts": sort_ts(updated),
        "count": len(ids),
    }


def announcements(
    ctx: Context, cal: WorkingCalendar, first: dt.date, end: dt.date, config: GeneratorConfig, planted: dict
) -> tuple[dict, dict, dict]:
    """Ministry decisions, the province's announcements of them, and their national publications.

    Returns (decisions, announcements, publications) as columns. A baseline publication of
    every procedure (the province's 2023 announcement) gives each one a fee declaration.
    """
    rng, prov, now = ctx.rng, ctx.province, ctx.now
    procs = prov.procedures
    n_units = len(prov.units)
    ministries = sorted(set(procs["ministry"]))
    months = (end.year - first.year) * 12 + end.month - first.month + 1
    n = max(1, int(rng.poisson(8 * months)))
    signed = np.sort(
        rng.integers(
            day_seconds(first) - 40 * DAY, max(day_seconds(end) - 20 * DAY, day_seconds(first) - 39 * DAY), n
        )
    )
    signed = signed // DAY * DAY
    ministry = np.array(ministries, dtype=object)[rng.integers(0, len(ministries), n)]
    dec = {k: [] for k in ("decision_no", "ministry", "signed_on", "effective_on", "posted_at", "codes")}
    ann = {
        k: []
        for k in (
            "announcement_id",
            "ministry_decision_no",
            "owner_unit_code",
            "info_received_on",
            "submitted_on",
            "signed_on",
            "provincial_decision_no",
            "updated_at",
        )
    }
    pub = {
        k: []
        for k in (
            "provincial_decision_no",
            "procedure_code",
            "published_at",
            "complete",
            "fee_declared",
            "updated_at",
        )
    }
    missing_decision = np.zeros(n_units, dtype=np.int64)
    late_submit, late_sign = np.zeros(n_units, dtype=np.int64), np.zeros(n_units, dtype=np.int64)
    late_pub, incomplete = np.zeros(n_units, dtype=np.int64), np.zeros(n_units, dtype=np.int64)
    for i in range(n):
        sign_day = EPOCH + dt.timedelta(days=int(signed[i] // DAY))
        effective = sign_day + dt.timedelta(days=int(rng.integers(30, 75)))
        candidates = np.flatnonzero(procs["ministry"] == ministry[i])
        chosen = procs["procedure_code"][
            rng.choice(candidates, size=min(len(candidates), int(rng.integers(2, 10))), replace=False)
        ]
        codes = list(chosen) + ([f"1.{int(rng.integers(14000, 15000)):06d}"] if rng.random() < 0.1 else [])
        decision_no = f"{int(rng.integers(100, 4000))}/QĐ-{_ministry_symbol(ministry[i])}"
        owner_code = responsible_department(procs["owner_unit_code"][candidates[0]], sign_day)
        owner_code = procs["owner_unit_code"][candidates[0]] if owner_code is None else owner_code
        oi = prov.unit_index(owner_code)
        posted = int(signed[i]) + int(rng.integers(1, 5)) * DAY + int(rng.integers(8 * 3600, 17 * 3600))
        absent = rng.random() < prov.rates["missing_ministry_decision"][oi]
        missing_decision[oi] += absent
        if not absent:
            dec["decision_no"].append(decision_no)
            dec["ministry"].append(ministry[i])
            dec["signed_on"].append(sign_day)
            dec["effective_on"].append(effective)
            dec["posted_at"].append(posted)
            dec["codes"].append(codes)
        info = int(posted // DAY) + int(rng.integers(0, 3))
        if info * DAY >= now:
            continue
        late_d = rng.random() < prov.rates["late_announcement_submission"][oi]
        submitted = info + (int(rng.integers(6, 15)) if late_d else int(rng.integers(1, 6)))
        deadline = cal.nth_working_day_before(effective, 5)
        late_s = rng.random() < prov.rates["late_signing"][oi]
        sign_on = (
            deadline + dt.timedelta(days=int(rng.integers(1, 20)))
            if late_s
            else max(
                EPOCH + dt.timedelta(days=submitted + 1),
                deadline - dt.timedelta(days=int(rng.integers(0, 6))),
            )
        )
        if late_s and sign_on <= deadline:
            sign_on = deadline + dt.timedelta(days=1)
        sign_s = day_seconds(sign_on)
        signed_ok = sign_s < now
        late_submit[oi] += late_d and submitted * DAY < now
        late_sign[oi] += (late_s and signed_ok) * len(set(codes))
        number = f"{int(rng.integers(1, 3500))}/QĐ-UBND" if signed_ok else None
        ann["announcement_id"].append(len(ann["announcement_id"]) + 1)
        ann["ministry_decision_no"].append(decision_no)
        ann["owner_unit_code"].append(owner_code)
        ann["info_received_on"].append(info)
        ann["submitted_on"].append(submitted if submitted * DAY < now else -1)
        ann["signed_on"].append(sign_s // DAY if signed_ok else -1)
        ann["provincial_decision_no"].append(number)
        ann["updated_at"].append(
            min(max(info * DAY, submitted * DAY, sign_s if signed_ok else 0) + 36_000, now - 1)
        )
        if not signed_ok:
            continue
        pub_deadline = day_seconds(cal.nth_working_day_after(sign_on, 5))
        for code in dict.fromkeys(codes):
            late_p = rng.random() < prov.rates["late_publication"][oi]
            at = (
                pub_deadline + int(rng.integers(DAY + 3600, 15 * DAY))
                if late_p
                else sign_s + int(rng.integers(DAY, 4 * DAY))
            )
            if at >= now:
                continue
            late_pub[oi] += late_p
            partial = rng.random() < prov.rates["incomplete_publication"][oi]
            incomplete[oi] += partial
            _add_publication(pub, procs, number, code, at, not partial, rng)
    planted.update(
        missing_ministry_decision=missing_decision,
        late_announcement_submission=late_submit,
        late_signing=late_sign,
        late_publication=late_pub,
        incomplete_publication=incomplete,
    )
    fee_missing = np.zeros(n_units, dtype=np.int64)
    baseline_at = day_seconds(dt.date(2023, 6, 1))
    for j, code in enumerate(procs["procedure_code"]):
        undeclared = (
            bool(procs["has_fee"][j])
            and rng.random() < prov.rates["fee_not_declared"][procs["owner_index"][j]]
        )
        fee_missing[procs["owner_index"][j]] += undeclared
        _add_publication(
            pub,
            procs,
            "1234/QĐ-UBND",
            code,
            baseline_at + j * 60,
            True,
            rng,
            fee_declared=None if not procs["has_fee"][j] else int(not undeclared),
        )
    planted["fee_not_declared"] = fee_missing
    return (
        _decision_columns(rng, dec, config),
        _announcement_columns(ann),
        _publication_columns(rng, pub, config),
    )


def _add_publication(pub, procs, number, code, at, complete, rng, fee_declared="auto") -> None:
    if fee_declared == "auto":
        j = np.flatnonzero(procs["procedure_code"] == code)
        has_fee = bool(procs["has_fee"][j[0]]) if len(j) else False
        # A republication carries the fee data forward as first declared (the baseline decides).
        fee_declared = 1 if has_fee else None
    pub["provincial_decision_no"].append(number)
    pub["procedure_code"].append(code)
    pub["published_at"].append(at)
    pub["complete"].append(int(complete))
    pub["fee_declared"].append(fee_declared)
    pub["updated_at"].append(at + int(rng.integers(60, 7200)))


_MINISTRY_SYMBOLS = {
    "Bộ Tư pháp": "BTP",
    "Bộ Nội vụ": "BNV",
    "Bộ Tài chính": "BTC",
    "Bộ Kế hoạch và Đầu tư": "BKHĐT",
    "Bộ Xây dựng": "BXD",
    "Bộ Giao thông vận tải": "BGTVT",
    "Bộ Tài nguyên và Môi trường": "BTNMT",
    "Bộ Lao động - Thương binh và Xã hội": "LĐTBXH",
    "Bộ Y tế": "BYT",
    "Bộ Giáo dục và Đào tạo": "BGDĐT",
    "Bộ Công Thương": "BCT",
    "Bộ Nông nghiệp và Phát triển nông thôn": "BNN",
    "Bộ Văn hóa, Thể thao và Du lịch": "BVHTTDL",
    "Bộ Thông tin và Truyền thông": "BTTTT",
    "Bộ Khoa học và Công nghệ": "BKHCN",
    "Bộ Ngoại giao": "BNG",
}


def _ministry_symbol(ministry: str) -> str:
    return _MINISTRY_SYMBOLS.get(ministry, "BỘ")


def _decision_columns(rng, dec: dict, config: GeneratorConfig) -> dict:
    m = len(dec["decision_no"])
    posted = np.array(dec["posted_at"], dtype=np.int64)
    styles = time_styles(rng, m, config.dirty)
    return {
        "decision_no": np.array(dec["decision_no"], dtype=object),
        "ministry": np.array(dec["ministry"], dtype=object),
        "signed_on": np.array([d.isoformat() for d in dec["signed_on"]], dtype=object),
        "effective_on": np.array([d.isoformat() for d in dec["effective_on"]], dtype=object),
        "posted_at": iso(posted, styles),
        "procedure_codes": np.array([json.dumps(c) for c in dec["codes"]], dtype=object),
        "updated_at": iso(posted + 600, styles),
        "sort_ts": sort_ts(posted + 600),
    }


def _announcement_columns(ann: dict) -> dict:
    return {
        "announcement_id": np.array(ann["announcement_id"], dtype=np.int64),
        "ministry_decision_no": np.array(ann["ministry_decision_no"], dtype=object),
        "owner_unit_code": np.array(ann["owner_unit_code"], dtype=object),
        "info_received_on": sql_date(np.array(ann["info_received_on"], dtype=np.int64)),
        "submitted_on": sql_date(np.array(ann["submitted_on"], dtype=np.int64)),
        "signed_on": sql_date(np.array(ann["signed_on"], dtype=np.int64)),
        "provincial_decision_no": np.array(ann["provincial_decision_no"], dtype=object),
        "updated_at": np.array(ann["updated_at"], dtype=np.int64),
    }


def _publication_columns(rng, pub: dict, config: GeneratorConfig) -> dict:
    m = len(pub["procedure_code"])
    at = np.array(pub["published_at"], dtype=np.int64)
    updated = np.array(pub["updated_at"], dtype=np.int64)
    styles = time_styles(rng, m, config.dirty)
    return {
        "province": np.full(m, PROVINCE, dtype=object),
        "provincial_decision_no": np.array(pub["provincial_decision_no"], dtype=object),
        "procedure_code": np.array(pub["procedure_code"], dtype=object),
        "published_at": iso(at, styles),
        "complete": np.array(pub["complete"], dtype=object),
        "fee_declared": np.array(pub["fee_declared"], dtype=object),
        "updated_at": iso(updated, styles),
        "sort_ts": sort_ts(updated),
    }
