-- D5_1_INPUTS_DIGITIZED (duty 5.1): dossier components digitised at receipt.
-- Population: received dossiers with received_at in M. Success: inputs_digitized.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.inputs_digitized = TRUE THEN 1 ELSE 0 END AS ok,
    'not_digitized' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
