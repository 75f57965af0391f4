-- DOSSIER_RECEIVING_SATISFACTION (Group 6, 6 points, target 0.9): satisfaction with dossier
-- handling.
-- Population: received dossiers with completed_at in M.
-- Success: not late (late: due_at null or completed_at > due_at), no dossier rating <= 2 for it
-- (ratings are staged at their latest version), and no feedback names it in dossier_code.
-- Each test an IN (subquery) reached only when the earlier ones pass (one pass over ratings
-- and feedback, not a lookup per dossier); a NULL code in them can only make IN unknown,
-- which falls through like "not found".
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.due_at IS NULL OR d.completed_at > d.due_at THEN 0
         WHEN d.dossier_code IN (SELECT r.ma_ho_so FROM stg_dossier_ratings r WHERE r.rating <= 2) THEN 0
         WHEN d.dossier_code IN (SELECT f.dossier_code FROM stg_feedback f) THEN 0
         ELSE 1 END AS ok,
    CASE WHEN d.due_at IS NULL OR d.completed_at > d.due_at THEN 'late'
         WHEN d.dossier_code IN (SELECT r.ma_ho_so FROM stg_dossier_ratings r WHERE r.rating <= 2)
         THEN 'rated_low'
         ELSE 'feedback_filed' END AS detail
FROM ind_v_received d
WHERE d.completed_at >= :period_start AND d.completed_at < :period_end
