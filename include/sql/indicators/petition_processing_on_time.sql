-- PETITION_PROCESSING_ON_TIME (Group 6, 6 points, empty_full; duty 6.1): feedback
-- (phản ánh, kiến nghị) answered on time.
-- Population: feedback with forwarded_at < end and (published_at null or >= start).
-- Success (finished in Python, finishers.petition_processing_on_time: the deadline is the
-- local date of forwarded_at + 15 days, met by an instant before 00:00 of the next day):
--   (published_at < end and meets the deadline)
--   or ((published_at null or >= end) and the deadline is after the last day of M).
SELECT
    f.unit_code,
    f.feedback_id AS item_id,
    f.forwarded_at,
    f.published_at
FROM stg_feedback f
WHERE f.forwarded_at < :period_end
  AND (f.published_at IS NULL OR f.published_at >= :period_start)
