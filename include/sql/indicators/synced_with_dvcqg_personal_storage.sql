-- SYNCED_WITH_DVCQG_PERSONAL_STORAGE (Group 5, 4 points, linear): dossiers linked with the
-- applicant's personal data store (kho dữ liệu cá nhân) on the national portal.
-- Population: received dossiers with received_at in M. Success: personal_store_linked.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.personal_store_linked = TRUE THEN 1 ELSE 0 END AS ok,
    'not_linked' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
