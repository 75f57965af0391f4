-- D3_1_FULLY_ONLINE (duty 3.1): online dossiers of full-process procedures handled fully online.
-- Population: received dossiers with channel 2 and completed_at in M of 'full' procedures.
-- Success: an 'electronic' or 'both' result and, for a has_fee procedure, an online payment
-- (group 4's definition, ind_v_paid_online).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.result_format IN ('electronic', 'both')
          AND (d.has_fee IS NULL OR d.has_fee <> TRUE
               OR d.dossier_code IN (SELECT p.dossier_code FROM ind_v_paid_online p))
         THEN 1 ELSE 0 END AS ok,
    CASE WHEN d.result_format IS NULL OR d.result_format NOT IN ('electronic', 'both')
         THEN 'result_not_electronic' ELSE 'fee_not_paid_online' END AS detail
FROM ind_v_received d
WHERE d.channel = 2
  AND d.completed_at >= :period_start AND d.completed_at < :period_end
  AND d.online_level = 'full'
