-- ON_TIME (Group 2, 20 points, linear; duty 2.1): dossiers handled on time (đúng hạn).
-- Population: received dossiers with received_at < end and (end_at none or end_at >= start).
-- Success: fewer than 2 supplement requests, and
--   finished before end  -> due_at is set and end_at <= due_at;
--   still open at end    -> due_at is null or due_at >= end.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.supplement_requests < 2
          AND (   (d.end_at < :period_end AND d.due_at IS NOT NULL AND d.end_at <= d.due_at)
               OR ((d.end_at IS NULL OR d.end_at >= :period_end)
                   AND (d.due_at IS NULL OR d.due_at >= :period_end)))
         THEN 1 ELSE 0 END AS ok,
    CASE WHEN d.supplement_requests >= 2 THEN 'second supplement request'
         WHEN d.end_at < :period_end AND d.due_at IS NULL THEN 'finished, no due date'
         WHEN d.end_at < :period_end THEN 'finished after the due date'
         ELSE 'open at period end, past the due date' END AS detail
FROM ind_v_received d
WHERE d.received_at < :period_end
  AND (d.end_at IS NULL OR d.end_at >= :period_start)
