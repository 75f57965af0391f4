-- DOSSIER_RECEIVING_SATISFACTION (Group 6, 6 points, target 0.9): satisfaction with dossier
-- handling.
-- Population: received dossiers with completed_at in M.
-- Success: not late (late: due_at null or completed_at > due_at), no dossier rating <= 2 for it
-- (ratings are staged at their latest version), and no feedback names it in dossier_code.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.due_at IS NOT NULL AND d.completed_at <= d.due_at
          AND NOT EXISTS (SELECT 1 FROM stg_dossier_ratings r
                          WHERE r.ma_ho_so = d.dossier_code AND r.rating <= 2)
          AND NOT EXISTS (SELECT 1 FROM stg_feedback f WHERE f.dossier_code = d.dossier_code)
         THEN 1 ELSE 0 END AS ok,
    CASE WHEN d.due_at IS NULL OR d.completed_at > d.due_at THEN 'late'
         WHEN EXISTS (SELECT 1 FROM stg_dossier_ratings r
                      WHERE r.ma_ho_so = d.dossier_code AND r.rating <= 2) THEN 'rated 1 or 2'
         ELSE 'feedback filed about the dossier' END AS detail
FROM ind_v_received d
WHERE d.completed_at >= :period_start AND d.completed_at < :period_end
