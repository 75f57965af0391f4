-- ONLINE_PAYMENT_PROCEDURES (Group 4, ratio B; duty 4.1): fee procedures paid online.
-- Population: distinct procedures of the unit's fee dossiers (received dossiers with
-- received_at in M of has_fee procedures); at H57 each procedure once province-wide.
-- Success: at least one of those fee dossiers has an online payment (group 4's definition,
-- ind_v_paid_online).
WITH fee_dossiers AS (
    SELECT
        d.unit_code,
        d.procedure_code,
        CASE WHEN d.dossier_code IN (SELECT p.dossier_code FROM ind_v_paid_online p) THEN 1 ELSE 0 END AS paid_online
    FROM ind_v_received d
    WHERE d.received_at >= :period_start AND d.received_at < :period_end
      AND d.has_fee = TRUE
)
SELECT unit_code, procedure_code AS item_id, MAX(paid_online) AS ok,
       'no_online_payment' AS detail
FROM fee_dossiers
GROUP BY unit_code, procedure_code
UNION ALL
SELECT 'H57', procedure_code, MAX(paid_online), 'no_online_payment'
FROM fee_dossiers
GROUP BY procedure_code
