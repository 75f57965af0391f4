-- FEE_DATA_DECLARED (Group 4, ratio C): fee data declared on the national database.
-- Population: the distinct procedures of ONLINE_PAYMENT_PROCEDURES (H57: once province-wide).
-- Success: the procedure's latest national publication — greatest published_at, ties: the
-- greater updated_at, then the later in the feed — has fee_declared true; none published fails.
WITH fee_procedures AS (
    SELECT DISTINCT d.unit_code, d.procedure_code
    FROM ind_v_received d
    WHERE d.received_at >= :period_start AND d.received_at < :period_end
      AND d.has_fee = TRUE
),
ranked_publications AS (
    SELECT
        pub.procedure_code,
        pub.fee_declared,
        ROW_NUMBER() OVER (
            PARTITION BY pub.procedure_code
            ORDER BY pub.published_at DESC, pub.updated_at DESC NULLS LAST, pub.feed_seq DESC NULLS LAST
        ) AS recency
    FROM stg_national_publications pub
    WHERE pub.published_at IS NOT NULL
),
latest AS (
    SELECT procedure_code, fee_declared FROM ranked_publications WHERE recency = 1
),
items AS (
    SELECT unit_code, procedure_code FROM fee_procedures
    UNION ALL
    SELECT DISTINCT 'H57', procedure_code FROM fee_procedures
)
SELECT
    i.unit_code,
    i.procedure_code AS item_id,
    CASE WHEN l.fee_declared = TRUE THEN 1 ELSE 0 END AS ok,
    CASE WHEN l.procedure_code IS NULL THEN 'not_published'
         ELSE 'fee_not_declared' END AS detail
FROM items i
LEFT JOIN latest l ON l.procedure_code = i.procedure_code
