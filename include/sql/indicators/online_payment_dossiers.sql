-- ONLINE_PAYMENT_DOSSIERS (Group 4, ratio A of the payment rule): fee dossiers paid online.
-- Population: fee dossiers — received dossiers with received_at in M of procedures with has_fee.
-- Success: the dossier has an online payment (ind_v_paid_online: status 'success' and method
-- 'online', at any time, whatever its paid_at; refunded payments never count).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.dossier_code IN (SELECT p.dossier_code FROM ind_v_paid_online p) THEN 1 ELSE 0 END AS ok,
    'not_paid_online' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
  AND d.has_fee = TRUE
