-- ELECTRONIC_CERTIFIED_COPY (Group 5, 2 points, linear; communes only): electronic certified
-- copies (chứng thực bản sao điện tử).
-- Population: one item for each commune active in M, even one with no certification dossier
-- (so H57 counts the communes active in M).
-- Success: the commune has a received dossier of an is_certification procedure with
-- received_at in M, a completed_at, and an 'electronic' or 'both' result.
SELECT
    u.unit_code,
    u.unit_code AS item_id,
    CASE WHEN issued.unit_code IS NOT NULL THEN 1 ELSE 0 END AS ok,
    'none_issued' AS detail
FROM stg_units u
LEFT JOIN (
    SELECT DISTINCT d.unit_code
    FROM ind_v_received d
    WHERE d.is_certification = TRUE
      AND d.received_at >= :period_start AND d.received_at < :period_end
      AND d.completed_at IS NOT NULL
      AND d.result_format IN ('electronic', 'both')
) issued ON issued.unit_code = u.unit_code
WHERE u.tier = 'commune'
  AND u.valid_from <= :last_day
  AND (u.valid_to IS NULL OR u.valid_to >= :first_day)
