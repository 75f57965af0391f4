-- D5_4_EFORM_COVERAGE (duty 5.4; departments only): online procedures with an e-form.
-- Population: procedures whose owner_unit_code is the department, with online_level 'full'
-- or 'partial' (not dated: the same every month); H57: those of all departments active in M.
-- Success: has_eform.
WITH owned AS (
    SELECT p.owner_unit_code AS unit_code, p.procedure_code,
           CASE WHEN p.has_eform = TRUE THEN 1 ELSE 0 END AS ok
    FROM stg_procedures p
    JOIN stg_units u ON u.unit_code = p.owner_unit_code
    WHERE u.tier = 'department'
      AND p.online_level IN ('full', 'partial')
      AND u.valid_from <= :last_day
      AND (u.valid_to IS NULL OR u.valid_to >= :first_day)
)
SELECT unit_code, procedure_code AS item_id, ok, 'no_eform' AS detail
FROM owned
UNION ALL
SELECT 'H57', procedure_code, ok, 'no_eform'
FROM owned
