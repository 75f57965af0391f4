-- D6_3_APOLOGY_BEFORE_DUE (duty 6.3): late dossiers get an apology and a new appointment
-- (phiếu xin lỗi, hẹn lại) at least a day before the due date.
-- Population: received dossiers with due_at in M that are late (end_at none or > due_at).
-- Success: an apology with issued_at ≤ due_at − 24 h and new_due_at > due_at; "24 hours
-- before" is checked in Python (finishers.d6_3_apology_before_due) on the apologies listed
-- here, one row per (dossier, apology with a later new appointment) or one row without one.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    d.due_at,
    a.issued_at AS apology_issued_at
FROM ind_v_received_progress d
LEFT JOIN stg_apologies a ON a.dossier_code = d.dossier_code AND a.new_due_at > d.due_at
WHERE d.due_at >= :period_start AND d.due_at < :period_end
  AND (d.end_at IS NULL OR d.end_at > d.due_at)
