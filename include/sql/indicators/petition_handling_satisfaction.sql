-- PETITION_HANDLING_SATISFACTION (Group 6, 6 points, empty_full; duty 6.2): satisfaction
-- with the answers to feedback.
-- Population: feedback with published_at in M.
-- Success: rating is not 'dissatisfied' (a null rating passes), no feedback at any unit names
-- it in repeat_of, and published_at meets its deadline (finished in Python,
-- finishers.petition_handling_satisfaction; no forwarded_at -> no deadline -> fails).
SELECT
    f.unit_code,
    f.feedback_id AS item_id,
    CASE WHEN f.rating IS NOT NULL AND f.rating = 'dissatisfied' THEN 1 ELSE 0 END AS dissatisfied,
    CASE WHEN EXISTS (SELECT 1 FROM stg_feedback r WHERE r.repeat_of = f.feedback_id)
         THEN 1 ELSE 0 END AS repeated,
    f.forwarded_at,
    f.published_at
FROM stg_feedback f
WHERE f.published_at >= :period_start AND f.published_at < :period_end
