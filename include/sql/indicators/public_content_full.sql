-- PUBLIC_CONTENT_FULL (Group 1, 2 points, linear): procedures published in full (công khai
-- đầy đủ: every part Decree 63/2010 art. 8(2) requires).
-- Population: national publications with published_at in M, attributed to the procedure's
-- owner_unit_code (none when the procedure is not in `procedures`: counted at H57 only).
-- Success: `complete` is true.
SELECT
    p.owner_unit_code AS unit_code,
    pub.provincial_decision_no || '/' || pub.procedure_code AS item_id,
    CASE WHEN pub.complete = TRUE THEN 1 ELSE 0 END AS ok,
    'incomplete' AS detail
FROM stg_national_publications pub
LEFT JOIN stg_procedures p ON p.procedure_code = pub.procedure_code
WHERE pub.published_at >= :period_start AND pub.published_at < :period_end
