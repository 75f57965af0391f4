-- D2_2_ONLINE_RECEIPT_8WH (duty 2.2): online dossiers answered within 8 working hours.
-- Population: dossiers with channel 2 and submitted_at in M, received or not, except those
-- that have no first answer and have fewer than 28,800 working seconds between submitted_at
-- and end. First answer: the earliest `received`, `rejected` or `supplement_requested` event.
-- Success: the first answer within 28,800 working seconds of submitted_at.
-- Working seconds are measured in Python (finishers.d2_2_online_receipt_8wh).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    d.submitted_at,
    a.first_answer_at
FROM ind_v_dossiers d
LEFT JOIN (
    SELECT e.dossier_code, MIN(e.occurred_at) AS first_answer_at
    FROM ind_v_events e
    WHERE e.event_type IN ('received', 'rejected', 'supplement_requested')
    GROUP BY e.dossier_code
) a ON a.dossier_code = d.dossier_code
WHERE d.channel = 2
  AND d.submitted_at >= :period_start AND d.submitted_at < :period_end
