-- SO_HOA_GIAY_TO_GIAI_QUYET (Group 5, 4 points, linear): dossier and result digitised (số hóa).
-- Population: received dossiers with completed_at in M.
-- Success: inputs_digitized and result_digitized (null booleans are false).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.inputs_digitized = TRUE AND d.result_digitized = TRUE THEN 1 ELSE 0 END AS ok,
    CASE WHEN d.inputs_digitized = TRUE THEN 'result_not_digitized'
         WHEN d.result_digitized = TRUE THEN 'inputs_not_digitized'
         ELSE 'neither_digitized' END AS detail
FROM ind_v_received d
WHERE d.completed_at >= :period_start AND d.completed_at < :period_end
