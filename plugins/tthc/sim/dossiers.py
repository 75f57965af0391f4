"""Dossiers (hồ sơ) of one month, vectorised: volumes, lifecycles, events, payments, apologies,
the national sync mirror and ratings, with defects planted at each unit's rates.

Instants are int64 seconds of naive local time (MISSING = -1). The replica is seen as it
stands at `now` (the end of the generated range): later events have not happened yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tthc.sim.catalogue import Province
from tthc.sim.reference import REFORM_ON, responsible_department
from tthc.sim.worktime import DAY, WorkClock, day_seconds

WORKING_DAY = 8 * 3600
# Dossiers per tier; after the reform the district share moves to the communes.
TIER_SHARES = {"department": 0.30, "district": 0.20, "commune": 0.50}
WEEKDAY_FACTOR = (1.25, 1.1, 1.0, 1.0, 0.9, 0.8, 0.8)  # Monday peak; make-up Saturdays work
OFF_DAY_FACTOR = 0.07  # online submissions on weekends and ordinary days off
ONLINE_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 12, 12, 11, 9, 5, 6, 10, 11, 10, 8, 6, 5, 5, 4, 3, 2], float)
MOBILE_PREFIXES = np.array(
    [
        "032",
        "033",
        "034",
        "035",
        "036",
        "037",
        "038",
        "039",
        "070",
        "076",
        "077",
        "078",
        "079",
        "081",
        "082",
        "083",
        "084",
        "085",
        "086",
        "088",
        "089",
        "090",
        "091",
        "093",
        "094",
        "096",
        "097",
        "098",
    ],
    dtype=object,
)
EVENT_ORDER = (
    "submitted",
    "pre_supplement_requested",
    "pre_supplement_received",
    "first",
    "assigned",
    "supplement_requested",
    "supplement_received",
    "supplement_requested_2",
    "supplement_received_2",
    "suspended",
    "resumed",
    "end",
    "returned",
)


@dataclass
class Context:
    rng: np.random.Generator
    clock: WorkClock
    province: Province
    now: int  # the replica's 'now': 00:00 of the day after the generated range
    per_day: float  # dossiers on an ordinary weekday with factor 1
    tet_days: frozenset[dt.date]
    names: np.ndarray  # pool of fake applicant names (personal data, fake)


def day_counts(ctx: Context, days: list[dt.date]) -> np.ndarray:
    """Dossiers submitted per day: weekday peaks, online trickle on days off, nothing at Tết."""
    lam = []
    for d in days:
        if d in ctx.tet_days:
            lam.append(0.0)
        elif d in ctx.clock.working_days:
            lam.append(ctx.per_day * WEEKDAY_FACTOR[d.weekday()])
        else:
            lam.append(ctx.per_day * OFF_DAY_FACTOR)
    return ctx.rng.poisson(lam)


def _pick_units_and_procedures(ctx: Context, month: dt.date, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng, prov = ctx.rng, ctx.province
    procs = prov.procedures
    active = np.array([u.active_on(month) for u in prov.units])
    tiers = np.array([u.tier for u in prov.units])
    shares = dict(TIER_SHARES)
    if month >= REFORM_ON:
        shares["commune"] += shares.pop("district")
    names = list(shares)
    tier_of = rng.choice(len(names), size=n, p=np.array(list(shares.values())))
    unit = np.empty(n, dtype=np.int64)
    proc = np.empty(n, dtype=np.int64)
    for t, tier in enumerate(names):
        rows = np.flatnonzero(tier_of == t)
        candidates = np.flatnonzero(procs["authority_tier"] == tier)
        pop = procs["popularity"][candidates].astype(float)
        proc[rows] = candidates[rng.choice(len(candidates), size=len(rows), p=pop / pop.sum())]
        if tier == "department":
            # A department handles its fields; before a merger the old department did.
            owner = {
                fi: prov.unit_index(responsible_department(f"000.00.{_field_department(fi):02d}.H57", month))
                for fi in set(procs["field_index"])
            }
            unit[rows] = [owner[fi] for fi in procs["field_index"][proc[rows]]]
        else:
            pool = np.flatnonzero(active & (tiers == tier))
            w = prov.weights[pool]
            unit[rows] = pool[rng.choice(len(pool), size=len(rows), p=w / w.sum())]
    return unit, proc


def _field_department(field_index: int) -> int:
    from tthc.sim.reference import FIELDS

    return FIELDS[field_index].department


def _uniform(rng, n, lo, hi) -> np.ndarray:
    return (lo + rng.random(n) * (hi - lo)).astype(np.int64)


def _planted(flag: np.ndarray, unit: np.ndarray, n_units: int) -> np.ndarray:
    return np.bincount(unit[flag], minlength=n_units)


def month_dossiers(ctx: Context, first: dt.date, stop: dt.date) -> dict:
    """Dossiers submitted in [first, stop) (one calendar month at most) with all their records."""
    rng, prov, clock, now = ctx.rng, ctx.province, ctx.clock, ctx.now
    procs, n_units = prov.procedures, len(prov.units)
    days = [first + dt.timedelta(days=i) for i in range((stop - first).days)]
    counts = day_counts(ctx, days)
    day = np.repeat(np.array([day_seconds(d) for d in days], dtype=np.int64), counts)
    working = np.repeat(np.array([d in clock.working_days for d in days]), counts)
    unit, proc = _pick_units_and_procedures(ctx, first, len(day))
    level = procs["online_level"][proc]
    keep = working | (level != "none")  # on days off only online-capable procedures come in
    day, working, unit, proc, level = day[keep], working[keep], unit[keep], proc[keep], level[keep]
    n = len(day)
    rate = {k: v[unit] for k, v in prov.rates.items()}
    planted: dict[str, np.ndarray] = {}

    # Channel (kênh nộp): 'full' procedures should come in online.
    u = rng.random(n)
    online = (
        np.where(
            level == "full",
            u >= rate["offline_full_procedure"],
            np.where(level == "partial", u < 0.35, False),
        )
        | ~working
    )
    planted["offline_full_procedure"] = _planted((level == "full") & ~online, unit, n_units)
    channel = np.where(online, 2, np.where(rng.random(n) < 0.04, 3, 1)).astype(np.int64)

    # Submission: office hours for counter and post, any hour online.
    office = clock.from_ws(clock.to_ws(day) + 1 + _uniform(rng, n, 0, WORKING_DAY - 1))
    hours = rng.choice(24, size=n, p=ONLINE_HOURS / ONLINE_HOURS.sum())
    submitted = np.where(online, day + hours * 3600 + rng.integers(0, 3600, n), office)

    # First answer: receipt, rejection, or (online) a request to complete the dossier first.
    rejected = rng.random(n) < 0.02
    late_receipt = online & (rng.random(n) < rate["late_online_receipt"])
    delay = np.where(late_receipt, _uniform(rng, n, 30_000, 120_000), _uniform(rng, n, 120, 25_000))
    first_answer = np.where(online, clock.add(submitted, delay), submitted + np.where(rejected, 300, 0))
    pre_supp = online & ~rejected & (rng.random(n) < 0.03)
    pre_supp_back = first_answer + _uniform(rng, n, DAY, 3 * DAY)
    received = np.where(pre_supp, clock.add(pre_supp_back, _uniform(rng, n, 60, 14_400)), first_answer)
    received = np.where(rejected, -1, received)
    is_received = ~rejected

    # Appointment (ngày hẹn trả) from the configured duration.
    amount = procs["configured_duration"][proc].astype(np.int64)
    dunit = procs["configured_duration_unit"][proc]
    due0 = np.where(
        dunit == "day",
        received + amount * DAY,
        clock.add(received, amount * np.where(dunit == "working_hour", 3600, WORKING_DAY)),
    )
    span = np.maximum(clock.between(received, due0), 600)
    late = is_received & (rng.random(n) < rate["late_completion"])
    planted["late_completion"] = _planted(late, unit, n_units)
    completed = np.where(
        late,
        clock.add(due0, _uniform(rng, n, 1800, 5 * WORKING_DAY)),
        clock.add(received, np.maximum((span * (0.15 + 0.8 * rng.random(n))).astype(np.int64), 60)),
    )
    # Suspension allowed by law: due_at moves by its length (the replica holds the moved date).
    suspended_flag = is_received & (rng.random(n) < 0.02)
    suspend_at = received + (completed - received) // 2
    pause = _uniform(rng, n, 2 * DAY, 10 * DAY)
    resumed_at = suspend_at + pause
    completed = np.where(suspended_flag, completed + pause, completed)
    due = np.where(suspended_flag, due0 + pause, due0)
    # Supplement requests (yêu cầu bổ sung) while processing; a second one is a defect.
    second = is_received & (rng.random(n) < rate["second_supplement"])
    supp1 = is_received & (second | (rng.random(n) < 0.08))
    planted["second_supplement"] = _planted(second, unit, n_units)
    length = completed - received
    supp1_req, supp1_back = received + length * 3 // 10, received + length * 4 // 10
    supp2_req, supp2_back = received + length * 6 // 10, received + length * 7 // 10
    # Withdrawn by the applicant, or processing stopped.
    ending = rng.random(n)
    withdrawn, stopped = is_received & (ending < 0.01), is_received & (ending >= 0.01) & (ending < 0.015)
    end_at = np.where(withdrawn | stopped, received + length * 8 // 10, completed)
    completes = is_received & ~withdrawn & ~stopped
    returned = np.where(completes & (rng.random(n) >= 0.06), completed + _uniform(rng, n, 600, 3 * DAY), -1)

    happened = {  # planned instant of each event (-1 = never); kept only when before now
        "submitted": submitted,
        "pre_supplement_requested": np.where(pre_supp, first_answer, -1),
        "pre_supplement_received": np.where(pre_supp, pre_supp_back, -1),
        "first": np.where(rejected, first_answer, received),
        "assigned": np.where(is_received, received + _uniform(rng, n, 60, 7200), -1),
        "supplement_requested": np.where(supp1, supp1_req, -1),
        "supplement_received": np.where(supp1, supp1_back, -1),
        "supplement_requested_2": np.where(second, supp2_req, -1),
        "supplement_received_2": np.where(second, supp2_back, -1),
        "suspended": np.where(suspended_flag, suspend_at, -1),
        "resumed": np.where(suspended_flag, resumed_at, -1),
        "end": np.where(is_received, end_at, -1),
        "returned": returned,
    }
    happened = {k: np.where((v >= 0) & (v < now), v, -1) for k, v in happened.items()}
    seen = lambda k: happened[k] >= 0  # noqa: E731
    planted["late_online_receipt"] = _planted(late_receipt & (first_answer < now), unit, n_units)

    # Payments of fee procedures, some time after receipt.
    fee = procs["fee_vnd"][proc].astype(np.int64)
    pay_at = np.where(is_received & (fee > 0), received + _uniform(rng, n, 300, 2 * DAY), -1)
    pay_at = np.where(pay_at < now, pay_at, -1)

    status = np.ones(n, dtype=np.int64)
    status[seen("first") & rejected] = 3
    status[seen("first") & is_received] = 2
    status[seen("assigned")] = 4
    status[seen("assigned") & (fee > 0) & (pay_at < 0)] = 6
    status[seen("supplement_requested") & ~seen("supplement_received")] = 5
    status[seen("supplement_requested_2") & ~seen("supplement_received_2")] = 5
    status[seen("end") & withdrawn] = 7
    status[seen("end") & stopped] = 8
    status[seen("end") & completes] = 9
    status[seen("returned")] = 10

    received_col = np.where(seen("first") & is_received, received, -1)
    due_col = np.where(received_col >= 0, due, -1)
    completed_col = np.where(seen("end") & completes, completed, -1)
    returned_col = happened["returned"]
    last = np.max(np.stack(list(happened.values())), axis=0)
    updated = np.maximum(last, pay_at) + _uniform(rng, n, 1, 300)

    # Digitisation and data reuse (số hóa, tái sử dụng) at each unit's rates.
    paper = rng.random(n) < rate["paper_result"]
    electronic_kind = np.where(online & (rng.random(n) < 0.7), "electronic", "both")
    result_format = np.where(completed_col >= 0, np.where(paper, "paper", electronic_kind), None)
    planted["paper_result"] = _planted(paper & (completed_col >= 0), unit, n_units)
    flags = {}
    for column, kind, population in (
        ("inputs_digitized", "inputs_not_digitized", received_col >= 0),
        ("result_digitized", "result_not_digitized", completed_col >= 0),
        ("personal_store_linked", "no_personal_store", received_col >= 0),
        ("citizen_data_used", "no_citizen_data", received_col >= 0),
    ):
        defect = rng.random(n) < rate[kind]
        flags[column] = population & ~defect
        planted[kind] = _planted(population & defect, unit, n_units)
    eligible = procs["reuse_eligible"][proc].astype(bool) & (received_col >= 0)
    no_reuse = rng.random(n) < rate["no_reuse"]
    reused = np.where(eligible & ~no_reuse, rng.integers(1, 4, n), 0)
    planted["no_reuse"] = _planted(eligible & no_reuse, unit, n_units)

    codes = _dossier_codes(prov, unit, day, submitted)
    out = {
        "n": n,
        "planted": planted,
        "dossiers": {
            "dossier_code": codes,
            "procedure_code": procs["procedure_code"][proc],
            "unit_code": np.array([u.code for u in prov.units], dtype=object)[unit],
            "channel": channel,
            "origin": procs["origin"][proc],
            "status": status,
            "submitted_at": submitted,
            "received_at": received_col,
            "due_at": due_col,
            "completed_at": completed_col,
            "returned_at": returned_col,
            "result_format": result_format,
            **flags,
            "reused_documents": reused,
            **_applicants(ctx, n),
            "updated_at": updated,
        },
        "events": _events(rng, codes, unit, happened, rejected, withdrawn, stopped),
        "payments": _payments(ctx, codes, unit, fee, pay_at, withdrawn & seen("end"), rate, planted),
        "apologies": _apologies(
            ctx, codes, unit, received_col, due_col, completed_col, end_at, late, rate, planted
        ),
        "unit": unit,
    }
    return out


def _dossier_codes(prov: Province, unit, day, submitted) -> np.ndarray:
    """'<unit>-yymmdd-NNNN': numbered per unit and day in order of submission."""
    order = np.lexsort((submitted, day, unit))
    key = unit[order] * 100_000 + day[order] // DAY
    starts = np.r_[True, key[1:] != key[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(key)), 0))
    seq = np.empty(len(key), dtype=np.int64)
    seq[order] = np.arange(len(key)) - group_start + 1
    yymmdd = np.datetime_as_string(day.astype("datetime64[s]"), unit="D")
    unit_codes = np.array([u.code for u in prov.units], dtype=object)[unit]
    return np.array(
        [f"{c}-{d[2:4]}{d[5:7]}{d[8:10]}-{s:04d}" for c, d, s in zip(unit_codes, yymmdd, seq, strict=True)],
        dtype=object,
    )


def _applicants(ctx: Context, n: int) -> dict[str, np.ndarray]:
    """Fake personal data (Faker vi_VN names; 12-digit IDs starting 046, Huế; mobile numbers)."""
    rng = ctx.rng
    names = ctx.names[rng.integers(0, len(ctx.names), n)]
    ids = rng.integers(0, 4, n) * 10**8 + rng.integers(50, 100, n) * 10**6 + rng.integers(0, 10**6, n)
    id_text = np.char.add("046", np.char.zfill(ids.astype(str), 9)).astype(object)
    phones = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)] + np.char.zfill(
        rng.integers(0, 10**7, n).astype(str), 7
    ).astype(object)
    return {"applicant_name": names, "applicant_id_number": id_text, "applicant_phone": phones}


def _events(rng, codes, unit, happened, rejected, withdrawn, stopped) -> dict[str, np.ndarray]:
    """Progress events (tiến trình xử lý), in dossier then lifecycle order."""
    end_type = np.where(withdrawn, "withdrawn", np.where(stopped, "stopped", "completed"))
    types = {
        "submitted": "submitted",
        "pre_supplement_requested": "supplement_requested",
        "pre_supplement_received": "supplement_received",
        "first": np.where(rejected, "rejected", "received"),
        "assigned": "assigned",
        "supplement_requested": "supplement_requested",
        "supplement_received": "supplement_received",
        "supplement_requested_2": "supplement_requested",
        "supplement_received_2": "supplement_received",
        "suspended": "suspended",
        "resumed": "resumed",
        "end": end_type,
        "returned": "returned",
    }
    n = len(codes)
    times = np.stack([happened[k] for k in EVENT_ORDER], axis=1)
    kinds = np.stack([np.broadcast_to(np.asarray(types[k], dtype=object), (n,)) for k in EVENT_ORDER], axis=1)
    mask = times >= 0
    rows = np.nonzero(mask)[0]
    occurred = times[mask]
    return {
        "dossier_code": codes[rows],
        "event_type": kinds[mask],
        "occurred_at": occurred,
        "unit_index": unit[rows],
        "recorded_at": occurred + rng.integers(0, 120, len(occurred)),
    }


def _payments(ctx, codes, unit, fee, pay_at, withdrawn, rate, planted) -> dict[str, np.ndarray]:
    """One payment per fee dossier (thanh toán), a failed attempt before some online ones."""
    rng, n_units = ctx.rng, len(ctx.province.units)
    rows = np.flatnonzero(pay_at >= 0)
    m = len(rows)
    offline = rng.random(m) < rate["offline_payment"][rows]
    other = ~offline & (rng.random(m) < rate["other_gateway"][rows])
    planted["offline_payment"] = _planted(offline, unit[rows], n_units)
    planted["other_gateway"] = _planted(other, unit[rows], n_units)
    method = np.where(offline, np.where(rng.random(m) < 0.6, "cash", "bank_transfer"), "online")
    gateway = np.where(
        offline,
        None,
        np.where(other, np.where(rng.random(m) < 0.5, "national_platform", "other"), "provincial_portal"),
    )
    status = np.where(withdrawn[rows], "refunded", "success")
    failed = ~offline & (rng.random(m) < 0.04)
    f = np.flatnonzero(failed)
    return {
        "dossier_code": np.r_[codes[rows], codes[rows][f]],
        "amount_vnd": np.r_[fee[rows], fee[rows][f]],
        "method": np.r_[method, method[f]].astype(object),
        "gateway": np.r_[gateway, gateway[f]].astype(object),
        "status": np.r_[status, np.full(len(f), "failed")].astype(object),
        "paid_at": np.r_[pay_at[rows], np.full(len(f), -1)],
        "updated_at": np.r_[pay_at[rows] + 5, pay_at[rows][f] - rng.integers(60, 900, len(f))],
    }


def _apologies(
    ctx, codes, unit, received, due, completed, end_at, late, rate, planted
) -> dict[str, np.ndarray]:
    """Apologies with a new appointment (phiếu xin lỗi) for dossiers planned to finish late."""
    rng, n_units, now = ctx.rng, len(ctx.province.units), ctx.now
    candidates = late & (received >= 0)
    missing = candidates & (rng.random(len(codes)) < rate["missing_apology"])
    tardy = rng.random(len(codes)) < rate["late_apology"]
    issued = np.where(
        tardy,
        due - _uniform(rng, len(codes), -DAY, DAY - 600),
        due - _uniform(rng, len(codes), DAY + 3600, 3 * DAY),
    )
    issued = np.maximum(issued, received + 600)
    issue = candidates & ~missing & (issued < now)
    planted["missing_apology"] = _planted(missing, unit, n_units)
    planted["late_apology"] = _planted(issue & (issued > due - DAY), unit, n_units)
    rows = np.flatnonzero(issue)
    new_due = due[rows] + rng.integers(1, 6, len(rows)) * DAY
    return {
        "dossier_code": codes[rows],
        "issued_at": issued[rows],
        "new_due_at": new_due,
        "recorded_at": issued[rows] + rng.integers(0, 300, len(rows)),
    }
