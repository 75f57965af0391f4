-- D2_3_SINGLE_SUPPLEMENT (duty 2.3): a supplement is requested once, before the due date.
-- Population: received dossiers with a supplement request (a supplement_requested event at or
-- after received_at) in M.
-- Success: exactly one supplement request in their history, with occurred_at ≤ due_at.
WITH requests AS (
    SELECT
        e.dossier_code,
        MIN(e.occurred_at) AS first_request_at,
        SUM(CASE WHEN e.occurred_at >= :period_start AND e.occurred_at < :period_end
                 THEN 1 ELSE 0 END) AS requests_in_period
    FROM ind_v_events e
    JOIN ind_v_received r ON r.dossier_code = e.dossier_code
    WHERE e.event_type = 'supplement_requested' AND e.occurred_at >= r.received_at
    GROUP BY e.dossier_code
)
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.supplement_requests = 1 AND d.due_at IS NOT NULL AND q.first_request_at <= d.due_at
         THEN 1 ELSE 0 END AS ok,
    CASE WHEN d.supplement_requests > 1 THEN 'more_than_one'
         ELSE 'after_due' END AS detail
FROM ind_v_received_progress d
JOIN requests q ON q.dossier_code = d.dossier_code
WHERE q.requests_in_period > 0
