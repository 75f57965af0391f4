-- REUSED_DIGITIZED_DATA (Group 5, 2 points, target 0.8; duty 5.2): digitised data reused
-- (tái sử dụng dữ liệu số hóa).
-- Population: received dossiers with received_at in M of reuse_eligible procedures.
-- Success: reused_documents > 0 (null counts as 0).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN COALESCE(d.reused_documents, 0) > 0 THEN 1 ELSE 0 END AS ok,
    'not_reused' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
  AND d.reuse_eligible = TRUE
