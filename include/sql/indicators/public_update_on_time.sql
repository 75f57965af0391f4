-- PUBLIC_UPDATE_ON_TIME (Group 1, 4 points, linear; duty 1.3): procedures published on the
-- national procedure database on time (công khai đúng hạn).
-- Items: (announcement, procedure code) pairs of announcements with signed_on set, as for
-- PUBLISH_ON_TIME (decision present with a readable effective_on).
-- Population: pairs whose deadline, the 5th working day after signed_on, falls in M.
-- Success: the announcement has a provincial_decision_no and the national publication of
-- (that number, that procedure) has published_at before 00:00 of the day after the deadline.
SELECT
    a.owner_unit_code AS unit_code,
    CAST(a.announcement_id AS TEXT) || '/' || mp.procedure_code AS item_id,
    CASE WHEN a.provincial_decision_no IS NOT NULL AND pub.published_at < day_after.day THEN 1 ELSE 0 END AS ok,
    CASE WHEN a.provincial_decision_no IS NULL THEN 'no_provincial_decision'
         WHEN pub.provincial_decision_no IS NULL THEN 'not_published'
         WHEN pub.published_at IS NULL THEN 'no_publication_time'
         ELSE 'published_late' END AS detail
FROM stg_procedure_announcements a
JOIN stg_ministry_decisions m ON m.decision_no = a.ministry_decision_no AND m.effective_on IS NOT NULL
JOIN stg_ministry_decision_procedures mp ON mp.decision_no = m.decision_no
JOIN cal_days signed ON signed.day = a.signed_on
JOIN cal_days deadline
  ON deadline.is_working = TRUE AND deadline.working_day_seq = signed.working_day_seq + 5
JOIN cal_days day_after ON day_after.day_number = deadline.day_number + 1
LEFT JOIN stg_national_publications pub
  ON pub.provincial_decision_no = a.provincial_decision_no AND pub.procedure_code = mp.procedure_code
WHERE deadline.day >= :first_day AND deadline.day <= :last_day
