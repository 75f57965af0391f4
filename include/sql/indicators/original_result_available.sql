-- ORIGINAL_RESULT_AVAILABLE (Group 5, 6 points, linear): original results issued electronically.
-- Population: received dossiers with completed_at in M.
-- Success: result_format is 'electronic' or 'both' (null is not electronic).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.result_format IN ('electronic', 'both') THEN 1 ELSE 0 END AS ok,
    'not_electronic' AS detail
FROM ind_v_received d
WHERE d.completed_at >= :period_start AND d.completed_at < :period_end
