-- D4_2_ONLINE_PAYMENT_SHARE (duty 4.2): payments made online.
-- Population: 'success' payments of received dossiers with paid_at in M (the dossier's unit).
-- Success: method = 'online'.
SELECT
    d.unit_code,
    pay.payment_id AS item_id,
    CASE WHEN pay.method = 'online' THEN 1 ELSE 0 END AS ok,
    'not_online' AS detail
FROM stg_payments pay
JOIN ind_v_received d ON d.dossier_code = pay.dossier_code
WHERE pay.status = 'success'
  AND pay.paid_at >= :period_start AND pay.paid_at < :period_end
