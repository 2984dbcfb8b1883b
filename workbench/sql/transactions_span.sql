-- transactions_span: first and last purchase day (whole days since 1970-01-01) and the number
-- of distinct customers, used for the default calibration end and for sanity messages.
--
-- Input: purchase_days(customer_id, day, amount, first_day) from purchase_days.sql; each
-- customer has exactly one row on its first day, so counting those counts customers.
SELECT
    MIN(day) AS first_day,
    MAX(day) AS last_day,
    CAST(SUM(CASE WHEN day = first_day THEN 1 ELSE 0 END) AS BIGINT) AS customers
FROM purchase_days
