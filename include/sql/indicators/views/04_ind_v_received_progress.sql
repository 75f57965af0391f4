-- Received dossiers with their end of processing and their supplement requests
-- (ON_TIME and the duties built on it; other indicators read the lighter ind_v_received).
--   end_at: completed_at; otherwise the earliest `withdrawn` event of a status-7 dossier,
--           the earliest `stopped` event of a status-8 dossier; otherwise none (NULL).
--   supplement_requests: `supplement_requested` events at or after received_at (a request
--           made while checking a dossier before accepting it is not a pause of processing).
CREATE VIEW ind_v_received_progress AS
SELECT
    d.*,
    COALESCE(
        d.completed_at,
        CASE WHEN d.status = 7 THEN ev.first_withdrawn_at WHEN d.status = 8 THEN ev.first_stopped_at END
    ) AS end_at,
    COALESCE(ev.supplement_requests, 0) AS supplement_requests
FROM ind_v_received d
LEFT JOIN (
    SELECT
        e.dossier_code,
        MIN(CASE WHEN e.event_type = 'withdrawn' THEN e.occurred_at END) AS first_withdrawn_at,
        MIN(CASE WHEN e.event_type = 'stopped' THEN e.occurred_at END) AS first_stopped_at,
        SUM(CASE WHEN e.event_type = 'supplement_requested' AND e.occurred_at >= r.received_at
                 THEN 1 ELSE 0 END) AS supplement_requests
    FROM ind_v_events e
    JOIN ind_v_received r ON r.dossier_code = e.dossier_code
    WHERE e.event_type IN ('withdrawn', 'stopped', 'supplement_requested')
    GROUP BY e.dossier_code
) ev ON ev.dossier_code = d.dossier_code
