-- D5_3_E_CERTIFICATION (duty 5.3): certification (chứng thực) results issued electronically,
-- by whichever unit handles certification dossiers.
-- Population: received dossiers with received_at in M of is_certification procedures that
-- have a completed_at. Success: an 'electronic' or 'both' result.
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.result_format IN ('electronic', 'both') THEN 1 ELSE 0 END AS ok,
    'not_electronic' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
  AND d.is_certification = TRUE
  AND d.completed_at IS NOT NULL
