-- Received dossiers (hồ sơ đã tiếp nhận): the population of every indicator whose items are
-- dossiers, or their events or payments — all but D2_2_ONLINE_RECEIPT_8WH.
CREATE VIEW ind_v_received AS
SELECT d.*
FROM ind_v_dossiers d
WHERE d.is_received = 1
