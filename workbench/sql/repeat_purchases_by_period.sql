-- repeat_purchases_by_period: the actual side of the tracking plot. Repeat purchase days of the
-- calibration cohort (customers whose first purchase is on or before calibration_end), counted
-- per time unit since the earliest first purchase, through the holdout period.
--
-- Input view: transactions(customer_id, timestamp DOUBLE days since 1970-01-01, amount).
-- Parameters: {calibration_end}, {holdout_end} (days since the epoch), {unit_days}.
-- Same-day purchases are one purchase, as in rfm.sql. Period k covers the days
-- [start_day + k * unit_days, start_day + (k + 1) * unit_days).
WITH purchase_days AS (
    SELECT DISTINCT
        CAST(customer_id AS STRING) AS customer_id,
        CAST(FLOOR(timestamp) AS DOUBLE) AS day
    FROM transactions
    WHERE CAST(FLOOR(timestamp) AS DOUBLE) <= {holdout_end}
),
with_first AS (
    SELECT
        customer_id,
        day,
        MIN(day) OVER (PARTITION BY customer_id) AS first_day,
        MIN(day) OVER () AS start_day
    FROM purchase_days
)
SELECT
    CAST(FLOOR((day - start_day) / {unit_days}) AS BIGINT) AS period,
    MIN(start_day) AS start_day,
    CAST(COUNT(*) AS BIGINT) AS repeat_purchases
FROM with_first
WHERE first_day <= {calibration_end} AND day > first_day
GROUP BY CAST(FLOOR((day - start_day) / {unit_days}) AS BIGINT)
ORDER BY period
