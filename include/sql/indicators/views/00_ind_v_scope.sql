-- Dossiers (hồ sơ) the other views cover: here every staged dossier. A run of a period
-- replaces this, for its own connection only, by the dossiers the period can touch
-- (run/period_scope.sql), so that its work grows with the month and not with the history.
CREATE VIEW ind_v_scope AS
SELECT d.dossier_code
FROM stg_dossiers d
