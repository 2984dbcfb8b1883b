-- experiment_revenue_none: no revenue events (neither transactions nor conversion values were
-- given); an empty table of the same shape keeps the per-user step the same query.
--
-- Input view: conversions(user_id, timestamp DOUBLE days).
SELECT
    CAST(user_id AS STRING) AS user_id,
    timestamp,
    CAST(NULL AS DOUBLE) AS amount
FROM conversions
WHERE 1 = 0
