-- D3_3_ONLINE_SERVICE_OFFERED (duty 3.3): procedures offered as online public services.
-- Population: distinct procedures of the unit's received dossiers with received_at in M
-- (H57: each procedure once province-wide).
-- Success: online_level is 'full' or 'partial' (null counts as 'none').
WITH used AS (
    SELECT DISTINCT d.unit_code, d.procedure_code, d.online_level
    FROM ind_v_received d
    WHERE d.received_at >= :period_start AND d.received_at < :period_end
),
items AS (
    SELECT unit_code, procedure_code, online_level FROM used
    UNION ALL
    SELECT DISTINCT 'H57', procedure_code, online_level FROM used
)
SELECT
    unit_code,
    procedure_code AS item_id,
    CASE WHEN online_level IN ('full', 'partial') THEN 1 ELSE 0 END AS ok,
    'not_offered' AS detail
FROM items
