-- D5_1_RESULT_DIGITIZED (duty 5.1): results digitised.
-- Population: received dossiers with completed_at in M. Success: result_digitized.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.result_digitized = TRUE THEN 1 ELSE 0 END AS ok,
    'not_digitized' AS detail
FROM ind_v_received d
WHERE d.completed_at >= :period_start AND d.completed_at < :period_end
