-- The dossiers a period M can touch: a superset of every dossier population of
-- indicators.md, so that restricting the views to them changes no number.
--   received before end and not completed before start: ON_TIME (open, or ended in M:
--     end_at is completed_at when set, and completed_at >= received_at after the quality
--     gate), and with it every "received_at in M", "completed_at in M" and "due_at in M"
--     population (due_at >= received_at after the gate);
--   returned_at in M (DOSSIER_SYNC); submitted_at in M (D2_2, received or not);
--   a payment with paid_at in M (D4_2, D4_3);
--   a supplement request in M (D2_3; kept whatever the dossier's own dates say).
-- A dossier in scope brings all its events, so per-dossier facts (end_at, supplement
-- requests, first answer) are whole.
-- One SELECT per condition, each a range of one of the ix_ind_scope_* indexes
-- (plugins/tthc/indicators/tables.py), so that the scope reads the month's entries and not
-- the whole history.
SELECT d.dossier_code FROM stg_dossiers d
WHERE d.completed_at >= :period_start AND d.received_at < :period_end
UNION
SELECT d.dossier_code FROM stg_dossiers d
WHERE d.completed_at IS NULL AND d.received_at < :period_end
UNION
SELECT d.dossier_code FROM stg_dossiers d
WHERE d.returned_at >= :period_start AND d.returned_at < :period_end
UNION
SELECT d.dossier_code FROM stg_dossiers d
WHERE d.submitted_at >= :period_start AND d.submitted_at < :period_end
UNION
SELECT pay.dossier_code FROM stg_payments pay
WHERE pay.paid_at >= :period_start AND pay.paid_at < :period_end
UNION
SELECT e.dossier_code FROM stg_dossier_events e
WHERE e.event_type = 'supplement_requested'
  AND e.occurred_at >= :period_start AND e.occurred_at < :period_end
