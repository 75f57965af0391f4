-- CITIZEN_DATA_CONNECTED_DOSSIER (Group 5, 2 points, linear): dossiers that used the national
-- population database (dữ liệu dân cư) or a VNeID account instead of paper.
-- Population: received dossiers with received_at in M. Success: citizen_data_used.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.citizen_data_used = TRUE THEN 1 ELSE 0 END AS ok,
    'not_used' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
