"""The portal's scoring rules, a unit's total, bands and ranks (indicators.md §1)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from tthc.config import ConfigError, load_model
from tthc.indicators import derived, finishers
from tthc.indicators.catalogue import Catalogue, load_catalogue
from tthc.indicators.derived import DERIVED
from tthc.indicators.scoring import points, ranks, round_half_up, score_unit
from tthc.paths import REPO_ROOT


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def test_catalogue_lists_index_then_duties_in_spec_order(cat):
    codes = [i.code for i in cat.indicators]
    assert codes[:5] == ["PUBLISH_ON_TIME", "PUBLIC_UPDATE_ON_TIME", "PUBLIC_CONTENT_FULL",
                         "DOSSIER_SYNC", "ON_TIME"]
    assert codes[-1] == "D6_3_APOLOGY_BEFORE_DUE"
    assert len(codes) == 37  # 19 index ratios + 18 duty codes
    assert cat.get("PUBLIC_UPDATE_ON_TIME").duty == "1.3"
    assert cat.get("ONLINE_FULL_PROCESS").estimate is True
    assert cat.get("ELECTRONIC_CERTIFIED_COPY").tiers == ["commune", "province"]
    assert cat.get("D5_4_EFORM_COVERAGE").tiers == ["department", "province"]
    assert sum(g.max_points for g in cat.groups) == 100


def test_every_catalogued_indicator_has_its_sql_file(cat):
    missing = [i.code for i in cat.indicators if not i.sql_path.exists()]
    assert missing == []


def test_derived_duties_match_their_code(cat):
    derived = {i.code: i.derived_from for i in cat.indicators if i.derived_from}
    assert derived == {code: parent for code, (parent, _) in DERIVED.items()}
    assert derived["D2_6_OVERDUE_RECONCILED"] == "ON_TIME"


def test_catalogue_error_names_file_field_and_problem(tmp_path):
    bad = tmp_path / "indicators.yaml"
    text = (load_catalogue().model_dump_json())
    bad.write_text(text.replace('"rule":"linear","max_points":6.0', '"rule":"linear","max_points":-6.0', 1))
    with pytest.raises(ConfigError) as err:
        load_model(bad, Catalogue)
    message = str(err.value)
    assert "indicators.yaml" in message and "indicators[0].max_points" in message
    assert "greater than 0" in message


def test_every_failure_reason_is_worded_in_vietnamese_once_per_code(cat):
    # no reason is worded for nothing: each is written by its SQL, finisher or derived.py
    # (the other way round, a reason the catalogue lacks stops the run: engine.check_reasons)
    code_files = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (finishers, derived))
    for ind in cat.indicators:
        sql = ind.sql_path.read_text(encoding="utf-8")
        unused = [r for r in ind.reasons if f"'{r}'" not in sql + code_files and f'"{r}"' not in code_files]
        assert unused == [], ind.code
    assert cat.reason_text("ON_TIME", "finished_late") == "Hồ sơ giải quyết quá hạn"
    # duties that only restrict their parent's items keep its reasons; D2_6 re-judges them
    assert cat.reasons_of("D2_5_SPECIALIZED_ON_TIME") == cat.reasons_of("ON_TIME")
    assert set(cat.reasons_of("D2_6_OVERDUE_RECONCILED")) == {"overdue_on_portal_only", "overdue_here_only"}
    with pytest.raises(KeyError, match="ON_TIME: no reason 'late'"):
        cat.reason_text("ON_TIME", "late")


@pytest.mark.parametrize(("reasons", "problem"), [
    ({}, "needs its reasons"),
    ({"late": "finished after the due date"}, "write it in Vietnamese"),
    ({"Late one": "Hồ sơ giải quyết quá hạn"}, "lower-case letters"),
])
def test_a_reason_missing_or_in_english_is_refused(tmp_path, reasons, problem):
    raw = yaml.safe_load((REPO_ROOT / "config" / "indicators.yaml").read_text(encoding="utf-8"))
    raw["indicators"][4]["reasons"] = reasons  # ON_TIME
    bad = tmp_path / "indicators.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as err:
        load_model(bad, Catalogue)
    assert "indicators[4]" in str(err.value)


@pytest.mark.parametrize(
    ("code", "num", "den", "expected"),
    [
        ("ON_TIME", 3, 4, 15.0),                      # linear 20 × 0.75
        ("ON_TIME", 0, 0, 0.0),                       # linear: 0 when the denominator is 0
        ("PUBLISH_ON_TIME", 1, 3, 2.0),               # 6 × 1/3
        ("REUSED_DIGITIZED_DATA", 4, 10, 1.0),        # target(2, 0.8): 2 × 0.4 / 0.8
        ("REUSED_DIGITIZED_DATA", 9, 10, 2.0),        # capped at max
        ("REUSED_DIGITIZED_DATA", 0, 0, 0.0),
        ("DOSSIER_RECEIVING_SATISFACTION", 81, 100, 5.4),  # target(6, 0.9): 6 × 0.81 / 0.9
        ("PETITION_PROCESSING_ON_TIME", 0, 0, 6.0),   # empty_full: max when nothing to answer
        ("PETITION_PROCESSING_ON_TIME", 1, 4, 1.5),
    ],
)
def test_rule_points(code, num, den, expected):
    assert points(code, num, den) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("nums", "expected"),
    [
        ((1, 1, 1, 1, 1, 1), 10.0),          # 6 + 2 + 2.5 = 10.5, capped at 10
        ((1, 2, 1, 1, 0, 1), 5.0),           # 6 × 0.5 + min(2, 2.5) + 0
        ((0, 0, 0, 0, 0, 0), 0.0),           # each ratio 0 when its denominator is 0
        ((3, 4, 1, 2, 2, 5), 6.75),          # 4.5 + min(2, 1.25) + 1.0
    ],
)
def test_payment_points(nums, expected):
    assert points("PAYMENT", *nums) == pytest.approx(expected, abs=1e-12)


def test_points_refuses_duties_and_payment_parts():
    with pytest.raises(ValueError, match="duty"):
        points("D2_2_ONLINE_RECEIPT_8WH", 1, 2)
    with pytest.raises(ValueError, match="PAYMENT"):
        points("ONLINE_PAYMENT_DOSSIERS", 1, 2)
    with pytest.raises(KeyError):
        points("NO_SUCH_INDICATOR", 1, 2)


def test_total_over_applicable_indicators_only(cat):
    # ON_TIME 3/4 (15 of 20) and the three empty_full group-6 petitions... only two of them are
    # empty_full: PETITION_* (6 + 6) apply with no feedback; DOSSIER_RECEIVING_SATISFACTION 0/0 does not.
    score = score_unit(cat, {"ON_TIME": (3, 4), "PETITION_PROCESSING_ON_TIME": (0, 0),
                             "PETITION_HANDLING_SATISFACTION": (0, 0),
                             "DOSSIER_RECEIVING_SATISFACTION": (0, 0),
                             "PUBLISH_ON_TIME": (0, 0)})
    assert score.groups[1] is None and score.groups[2] == 15 and score.groups[6] == 12
    assert score.max_sum == 32
    assert score.total == Fraction(100 * 27, 32)


def test_group4_applies_only_with_fee_dossiers(cat):
    parts = {"ONLINE_PAYMENT_DOSSIERS": (0, 0), "ONLINE_PAYMENT_PROCEDURES": (0, 0),
             "FEE_DATA_DECLARED": (0, 0)}
    assert score_unit(cat, {"ON_TIME": (1, 1), **parts}).groups[4] is None
    parts = {"ONLINE_PAYMENT_DOSSIERS": (1, 2), "ONLINE_PAYMENT_PROCEDURES": (1, 1),
             "FEE_DATA_DECLARED": (0, 1)}
    score = score_unit(cat, {"ON_TIME": (1, 1), **parts})
    assert score.groups[4] == 5  # 6 × 0.5 + 2 + 0
    assert score.total == Fraction(100 * 25, 30)


def test_unit_without_on_time_dossiers_is_not_scored(cat):
    score = score_unit(cat, {"ON_TIME": (0, 0), "PUBLIC_CONTENT_FULL": (1, 1)})
    assert score.groups[1] == 2 and score.total is None


def test_round_half_up_is_exact_on_fractions_and_short_floats():
    assert str(round_half_up(Fraction(1, 8), 2)) == "0.13"
    assert str(round_half_up(Fraction(5, 10**7), 6)) == "0.000001"
    assert str(round_half_up(2.675, 2)) == "2.68"  # the decimal 2.675, not the binary float below it
    assert str(round_half_up(Fraction(799999999999999, 10**13), 9)) == "80.000000000"


def test_ranks_by_rounded_total_then_g2_then_code():
    near_80 = Fraction(7999999999999, 10**11) * 1  # 79.99999999999 rounds to 80.000000000
    ordered = ranks([("C", Fraction(80), Fraction(10)), ("B", near_80, Fraction(12)),
                     ("A", Fraction(80), Fraction(10)), ("D", Fraction(90), None)])
    assert ordered == {"D": 1, "B": 2, "A": 3, "C": 4}
