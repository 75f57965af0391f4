-- D2_4_DURATION_CONFIG_MATCH (duty 2.4): processing time configured as published.
-- Population: distinct procedures of the unit's received dossiers with received_at in M
-- (H57: each procedure once province-wide).
-- Success: configured_duration = published_duration numerically and the two unit codes are
-- identical (different units never match, even when equivalent; a null fails).
WITH used AS (
    SELECT DISTINCT d.unit_code, d.procedure_code
    FROM ind_v_received d
    WHERE d.received_at >= :period_start AND d.received_at < :period_end
),
items AS (
    SELECT unit_code, procedure_code FROM used
    UNION ALL
    SELECT DISTINCT 'H57', procedure_code FROM used
)
SELECT
    i.unit_code,
    i.procedure_code AS item_id,
    CASE WHEN p.configured_duration = p.published_duration
          AND p.configured_duration_unit = p.published_duration_unit
         THEN 1 ELSE 0 END AS ok,
    'duration_differs' AS detail
FROM items i
LEFT JOIN stg_procedures p ON p.procedure_code = i.procedure_code
