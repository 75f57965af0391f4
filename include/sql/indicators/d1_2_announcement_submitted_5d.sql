-- D1_2_ANNOUNCEMENT_SUBMITTED_5D (duty 1.2): the draft announcement submitted to the Chairman
-- within 5 days of learning of the ministry's decision.
-- Population: announcements whose deadline, info_received_on + 5 (calendar) days, falls in M
-- (whether or not their decision is in the ministry-decisions feed).
-- Success: submitted_on is set and ≤ the deadline.
SELECT
    a.owner_unit_code AS unit_code,
    CAST(a.announcement_id AS TEXT) AS item_id,
    CASE WHEN a.submitted_on IS NOT NULL AND a.submitted_on <= deadline.day THEN 1 ELSE 0 END AS ok,
    CASE WHEN a.submitted_on IS NULL THEN 'not_submitted' ELSE 'submitted_late' END AS detail
FROM stg_procedure_announcements a
JOIN cal_days learned ON learned.day = a.info_received_on
JOIN cal_days deadline ON deadline.day_number = learned.day_number + 5
WHERE deadline.day >= :first_day AND deadline.day <= :last_day
