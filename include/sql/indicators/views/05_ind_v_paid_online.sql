-- Dossiers in scope paid online (thanh toán trực tuyến), group 4's definition: a payment with
-- status 'success' and method 'online', at any time, whatever its paid_at (refunded payments
-- never count). Read by D3_1_FULLY_ONLINE, ONLINE_PAYMENT_DOSSIERS and
-- ONLINE_PAYMENT_PROCEDURES: one pass over the scope's payments instead of one over every
-- payment of the history per indicator.
CREATE VIEW ind_v_paid_online AS
SELECT DISTINCT pay.dossier_code
FROM stg_payments pay
WHERE pay.status = 'success' AND pay.method = 'online'
  AND pay.dossier_code IN (SELECT s.dossier_code FROM ind_v_scope s)
