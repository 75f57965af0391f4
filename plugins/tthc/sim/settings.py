"""The generator's rates (config/generator.yaml): planted defects and dirty data.

Each unit draws one rate per defect kind, once, from the kind's [low, high] range: a unit's
overall 'badness' (uniform in [0, 1]) places it in every range, plus some independent noise,
so that good units are good at most things and unit totals spread (roughly 50 to 95).
Dirty-data rates are per row and the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from tthc.config import Strict, load_model
from tthc.paths import config_dir

# Defect kinds, the indicator they pull down (indicators.md), and the item they apply to.
DEFECT_KINDS: dict[str, str] = {
    "late_online_receipt": "D2_2_ONLINE_RECEIPT_8WH: online dossier first answered after 8 working hours",
    "second_supplement": "ON_TIME, D2_3: a received dossier gets a second supplement request",
    "late_completion": "ON_TIME: a received dossier completes after its due_at",
    "offline_full_procedure": "ONLINE_FULL_PROCESS: a dossier of a 'full' procedure not filed online",
    "paper_result": "ORIGINAL_RESULT_AVAILABLE, D3_1, D5_3: a completed dossier's result is paper only",
    "inputs_not_digitized": "SO_HOA_GIAY_TO_GIAI_QUYET, D5_1: inputs not digitised at receipt",
    "result_not_digitized": "SO_HOA_GIAY_TO_GIAI_QUYET, D5_1: result not digitised",
    "no_reuse": "REUSED_DIGITIZED_DATA: a dossier of a reuse-eligible procedure reuses nothing",
    "no_personal_store": "SYNCED_WITH_DVCQG_PERSONAL_STORAGE: not linked to the personal data store",
    "no_citizen_data": "CITIZEN_DATA_CONNECTED_*: national population database not used",
    "missing_apology": "D6_3: a late dossier gets no apology",
    "late_apology": "D6_3: a late dossier's apology comes less than 24 h before due_at",
    "offline_payment": "ONLINE_PAYMENT_*, D4_2: a fee is paid in cash or by bank transfer",
    "other_gateway": "D4_3: an online payment goes through another gateway than the provincial portal",
    "sync_missing": "DOSSIER_SYNC, D1_4, D1_5: the dossier is missing from the national sync feed",
    "sync_stale": "DOSSIER_SYNC, D2_6: the sync feed holds an earlier status",
    "low_rating": "DOSSIER_RECEIVING_SATISFACTION: a rated dossier is rated 1 or 2",
    "duration_mismatch": "D2_4 (owner department): configured duration differs from the published one",
    "no_eform": "D5_4 (owner department): an online procedure has no e-form",
    "no_online_service": "D3_3 (owner department): a procedure offers no online service",
    "fee_not_declared": "FEE_DATA_DECLARED (owner department): fee data not declared nationally",
    "late_announcement_submission": "D1_2 (owner department): draft submitted after info + 5 days",
    "late_signing": "PUBLISH_ON_TIME (owner department): signed after the 5th working day before effect",
    "late_publication": "PUBLIC_UPDATE_ON_TIME (owner department): published after 5 working days",
    "incomplete_publication": "PUBLIC_CONTENT_FULL (owner department): publication incomplete",
    "missing_ministry_decision": "announcements whose ministry decision is absent from the national feed",
    "late_feedback_answer": "PETITION_*: feedback answer published after its 15-day deadline",
    "dissatisfied_feedback": "PETITION_HANDLING_SATISFACTION: the applicant rates the answer dissatisfied",
    "repeat_feedback": "PETITION_HANDLING_SATISFACTION: the same matter comes back as a repeat",
}

DIRTY_KINDS: dict[str, str] = {
    "out_of_order_timestamps": "a dossier received before submitted, or completed before received",
    "due_before_received": "a dossier whose due_at is before its received_at",
    "unknown_unit_code": "a dossier naming a unit absent from units",
    "unknown_procedure_code": "a dossier naming a procedure absent from procedures",
    "null_required": "a dossier with a NULL status",
    "future_timestamp": "a dossier updated (and completed) years after the generated range",
    "duplicate_event": "an event row repeating (dossier_code, event_type, occurred_at)",
    "malformed_feed_time": "a national time field that is neither ISO 8601 nor yyyyMMddHHmmss",
    "empty_feed_key": "a national item whose key is empty",
    "utc_z_time": "a national ISO time written in UTC with 'Z' (valid, must be normalised)",
    "local_time_without_offset": "a national ISO time written without an offset (valid, local)",
}


class RateRange(Strict):
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> RateRange:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self


class GeneratorConfig(Strict):
    """Planted defect rate ranges (per unit) and dirty-data rates (per row)."""

    unit_noise: float = Field(ge=0, le=1, description="independent share of each unit's defect rates")
    defects: dict[str, RateRange]
    dirty: dict[str, float]

    @field_validator("defects")
    @classmethod
    def _all_defects(cls, value: dict[str, RateRange]) -> dict[str, RateRange]:
        return _exact_keys(value, DEFECT_KINDS)

    @field_validator("dirty")
    @classmethod
    def _all_dirty(cls, value: dict[str, float]) -> dict[str, float]:
        for kind, rate in _exact_keys(value, DIRTY_KINDS).items():
            if not 0 <= rate <= 0.2:
                raise ValueError(f"{kind}: {rate} is not a rate between 0 and 0.2")
        return value

    def without_dirt(self) -> GeneratorConfig:
        """The same defects and no dirty rows (tests that measure planted rates exactly)."""
        return self.model_copy(update={"dirty": dict.fromkeys(self.dirty, 0.0)})


def _exact_keys(value: dict, expected: dict) -> dict:
    missing, unknown = set(expected) - set(value), set(value) - set(expected)
    if missing or unknown:
        raise ValueError(f"missing kinds {sorted(missing)}; unknown kinds {sorted(unknown)}")
    return value


def load_generator_config(path: Path | None = None) -> GeneratorConfig:
    """config/generator.yaml (or `path`), validated; ConfigError names file, field and problem."""
    return load_model(path or config_dir() / "generator.yaml", GeneratorConfig)
