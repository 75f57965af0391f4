-- D4_3_PROVINCIAL_GATEWAY (duty 4.3): online payments through the provincial portal's gateway.
-- Population: 'success' 'online' payments of received dossiers with paid_at in M.
-- Success: gateway = 'provincial_portal' (null is not).
SELECT
    d.unit_code,
    pay.payment_id AS item_id,
    CASE WHEN pay.gateway = 'provincial_portal' THEN 1 ELSE 0 END AS ok,
    'other_gateway' AS detail
FROM stg_payments pay
JOIN ind_v_received d ON d.dossier_code = pay.dossier_code
WHERE pay.status = 'success' AND pay.method = 'online'
  AND pay.paid_at >= :period_start AND pay.paid_at < :period_end
