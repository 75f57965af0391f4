-- D3_2_ONLINE_UPTAKE (duty 3.2): online procedures that actually receive online dossiers.
-- Population: distinct procedures with online_level 'full' or 'partial' of the unit's received
-- dossiers with received_at in M (H57: each procedure once province-wide).
-- Success: at least one of those dossiers has channel 2.
WITH month_dossiers AS (
    SELECT d.unit_code, d.procedure_code, CASE WHEN d.channel = 2 THEN 1 ELSE 0 END AS online
    FROM ind_v_received d
    WHERE d.received_at >= :period_start AND d.received_at < :period_end
      AND d.online_level IN ('full', 'partial')
)
SELECT unit_code, procedure_code AS item_id, MAX(online) AS ok,
       'no_online_dossier' AS detail
FROM month_dossiers
GROUP BY unit_code, procedure_code
UNION ALL
SELECT 'H57', procedure_code, MAX(online), 'no_online_dossier'
FROM month_dossiers
GROUP BY procedure_code
