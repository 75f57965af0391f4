-- ON_TIME (Group 2, 20 points, linear; duty 2.1): dossiers handled on time (đúng hạn).
-- Population: received dossiers with received_at < end and (end_at none or end_at >= start).
-- Success: fewer than 2 supplement requests, and
--   finished before end  -> due_at is set and end_at <= due_at;
--   still open at end    -> due_at is null or due_at >= end.
-- Also returned, for the duties on this population: `origin` (2.5) and the national portal's
-- verdict from the synced-dossiers feed (2.6): if NgayCoKetQua is set and < end, on time iff
-- NgayHenTra is set and NgayCoKetQua <= NgayHenTra; otherwise on time iff NgayHenTra is null
-- or >= end.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.supplement_requests < 2
          AND (   (d.end_at < :period_end AND d.due_at IS NOT NULL AND d.end_at <= d.due_at)
               OR ((d.end_at IS NULL OR d.end_at >= :period_end)
                   AND (d.due_at IS NULL OR d.due_at >= :period_end)))
         THEN 1 ELSE 0 END AS ok,
    CASE WHEN d.supplement_requests >= 2 THEN 'second_supplement'
         WHEN d.end_at < :period_end AND d.due_at IS NULL THEN 'finished_without_due_date'
         WHEN d.end_at < :period_end THEN 'finished_late'
         ELSE 'open_overdue' END AS detail,
    d.origin,
    CASE WHEN s.ma_ho_so IS NULL THEN 0 ELSE 1 END AS feed_held,
    CASE WHEN (s.ngay_co_ket_qua < :period_end
               AND s.ngay_hen_tra IS NOT NULL AND s.ngay_co_ket_qua <= s.ngay_hen_tra)
           OR ((s.ngay_co_ket_qua IS NULL OR s.ngay_co_ket_qua >= :period_end)
               AND (s.ngay_hen_tra IS NULL OR s.ngay_hen_tra >= :period_end))
         THEN 1 ELSE 0 END AS feed_on_time
FROM ind_v_received_progress d
LEFT JOIN stg_synced_dossiers s ON s.ma_ho_so = d.dossier_code
WHERE d.received_at < :period_end
  AND (d.end_at IS NULL OR d.end_at >= :period_start)
