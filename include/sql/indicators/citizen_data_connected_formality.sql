-- CITIZEN_DATA_CONNECTED_FORMALITY (Group 5, 2 points, linear): procedures whose dossiers use
-- the national population database.
-- Population: distinct procedures of the unit's received dossiers with received_at in M
-- (H57: each procedure once province-wide).
-- Success: at least one of those dossiers has citizen_data_used.
WITH month_dossiers AS (
    SELECT d.unit_code, d.procedure_code,
           CASE WHEN d.citizen_data_used = TRUE THEN 1 ELSE 0 END AS used
    FROM ind_v_received d
    WHERE d.received_at >= :period_start AND d.received_at < :period_end
)
SELECT unit_code, procedure_code AS item_id, MAX(used) AS ok,
       'not_used' AS detail
FROM month_dossiers
GROUP BY unit_code, procedure_code
UNION ALL
SELECT 'H57', procedure_code, MAX(used), 'not_used'
FROM month_dossiers
GROUP BY procedure_code
