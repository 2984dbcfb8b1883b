-- transactions_span: first and last purchase day (whole days since 1970-01-01) and the number
-- of distinct customers, used for the default calibration end and for sanity messages.
--
-- Input view: transactions(customer_id, timestamp DOUBLE days since 1970-01-01, amount).
SELECT
    MIN(CAST(FLOOR(timestamp) AS DOUBLE)) AS first_day,
    MAX(CAST(FLOOR(timestamp) AS DOUBLE)) AS last_day,
    CAST(COUNT(DISTINCT CAST(customer_id AS STRING)) AS BIGINT) AS customers
FROM transactions
