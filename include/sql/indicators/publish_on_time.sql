-- PUBLISH_ON_TIME (Group 1, 6 points, linear): procedures announced on time (công bố đúng hạn).
-- Items: (announcement, procedure code) pairs — one per distinct code of the ministry decision
-- the announcement answers, whether or not the code is in `procedures`. Announcements whose
-- decision is absent from the feed or has no readable effective_on are outside.
-- Population: pairs whose deadline, the 5th working day before the decision's effective_on,
-- falls in M. Success: signed_on is set and ≤ the deadline.
-- Working days come from cal_days: the n-th working day before d is the working day whose
-- working_day_seq = seq(d) − is_working(d) − n + 1.
SELECT
    a.owner_unit_code AS unit_code,
    CAST(a.announcement_id AS TEXT) || '/' || mp.procedure_code AS item_id,
    CASE WHEN a.signed_on IS NOT NULL AND a.signed_on <= deadline.day THEN 1 ELSE 0 END AS ok,
    CASE WHEN a.signed_on IS NULL THEN 'not_signed' ELSE 'signed_late' END AS detail
FROM stg_procedure_announcements a
JOIN stg_ministry_decisions m ON m.decision_no = a.ministry_decision_no
JOIN stg_ministry_decision_procedures mp ON mp.decision_no = m.decision_no
JOIN cal_days eff ON eff.day = m.effective_on
JOIN cal_days deadline
  ON deadline.is_working = TRUE
 AND deadline.working_day_seq = eff.working_day_seq - (CASE WHEN eff.is_working = TRUE THEN 1 ELSE 0 END) - 4
WHERE deadline.day >= :first_day AND deadline.day <= :last_day
