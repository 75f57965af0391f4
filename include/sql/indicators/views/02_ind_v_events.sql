-- Processing events (tiến trình) of the dossiers in scope the quality gate kept, of the types
-- the indicators read: a first answer (`received`, `rejected`, `supplement_requested`: D2_2),
-- supplement requests (D2_3, ind_v_received_progress) and the ends of withdrawn and stopped
-- dossiers (`withdrawn`, `stopped`: ind_v_received_progress). An indicator reading another
-- type adds it here (tests/test_indicator_views.py checks). Rows repeating the same
-- (dossier_code, event_type, occurred_at) are one event everywhere.
CREATE VIEW ind_v_events AS
SELECT DISTINCT e.dossier_code, e.event_type, e.occurred_at
FROM stg_dossier_events e
WHERE NOT EXISTS (SELECT 1 FROM quality_excluded_dossiers q WHERE q.dossier_code = e.dossier_code)
  AND e.dossier_code IN (SELECT s.dossier_code FROM ind_v_scope s)
  AND e.event_type IN ('received', 'rejected', 'supplement_requested', 'withdrawn', 'stopped')
