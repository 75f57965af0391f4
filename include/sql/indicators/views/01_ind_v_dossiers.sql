-- Dossiers (hồ sơ) in the populations: every staged dossier in scope the quality gate kept, with its
-- procedure's attributes as they stand now and whether it was *received* (tiếp nhận):
-- received_at is set and the status is not 1 (newly submitted) or 3 (not received).
CREATE VIEW ind_v_dossiers AS
SELECT
    d.dossier_code,
    d.unit_code,
    d.procedure_code,
    d.channel,
    d.origin,
    d.status,
    d.submitted_at,
    d.received_at,
    d.due_at,
    d.completed_at,
    d.returned_at,
    d.result_format,
    d.inputs_digitized,
    d.result_digitized,
    d.reused_documents,
    d.personal_store_linked,
    d.citizen_data_used,
    CASE WHEN d.received_at IS NOT NULL AND d.status NOT IN (1, 3) THEN 1 ELSE 0 END AS is_received,
    p.online_level,
    p.has_fee,
    p.is_certification,
    p.reuse_eligible
FROM stg_dossiers d
LEFT JOIN stg_procedures p ON p.procedure_code = d.procedure_code
WHERE NOT EXISTS (SELECT 1 FROM quality_excluded_dossiers q WHERE q.dossier_code = d.dossier_code)
  AND d.dossier_code IN (SELECT s.dossier_code FROM ind_v_scope s)
