-- DOSSIER_SYNC (Group 1, 6 points, linear): dossiers synchronised with the national portal.
-- Population: received dossiers with received_at, completed_at or returned_at in M.
-- Success: the synced-dossiers feed holds the dossier with TrangThaiHoSo equal to its status.
-- `origin` feeds the duties 1.4 (specialised systems) and 1.5 (provincial system).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN s.trang_thai_ho_so = d.status THEN 1 ELSE 0 END AS ok,
    CASE WHEN s.ma_ho_so IS NULL THEN 'not_on_portal'
         ELSE 'status_differs' END AS detail,
    d.origin
FROM ind_v_received d
LEFT JOIN stg_synced_dossiers s ON s.ma_ho_so = d.dossier_code
WHERE (d.received_at >= :period_start AND d.received_at < :period_end)
   OR (d.completed_at >= :period_start AND d.completed_at < :period_end)
   OR (d.returned_at >= :period_start AND d.returned_at < :period_end)
