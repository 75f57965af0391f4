-- ONLINE_FULL_PROCESS (Group 3, 12 points, linear; an ESTIMATE: the portal's exact
-- composition of this group is not public): full-process online dossiers (toàn trình).
-- Population: received dossiers with received_at in M of procedures with online_level 'full'.
-- Success: channel = 2 (online).
SELECT
    d.unit_code,
    d.dossier_code AS item_id,
    CASE WHEN d.channel = 2 THEN 1 ELSE 0 END AS ok,
    'not_received_online' AS detail
FROM ind_v_received d
WHERE d.received_at >= :period_start AND d.received_at < :period_end
  AND d.online_level = 'full'
