-- repeat_purchases_by_period: the actual side of the tracking plot. Repeat purchase days of the
-- calibration cohort (customers whose first purchase is on or before calibration_end), counted
-- per time unit since the earliest first purchase, through the holdout period.
--
-- Input: purchase_days(customer_id, day, amount, first_day) from purchase_days.sql.
-- Parameters: {calibration_end}, {holdout_end} (days since the epoch), {unit_days}.
-- Period k covers the days [start_day + k * unit_days, start_day + (k + 1) * unit_days).
WITH cohort AS (
    SELECT day, first_day, MIN(first_day) OVER () AS start_day
    FROM purchase_days
    WHERE day <= {holdout_end}
)
SELECT
    CAST(FLOOR((day - start_day) / {unit_days}) AS BIGINT) AS period,
    MIN(start_day) AS start_day,
    CAST(COUNT(*) AS BIGINT) AS repeat_purchases
FROM cohort
WHERE first_day <= {calibration_end} AND day > first_day
GROUP BY CAST(FLOOR((day - start_day) / {unit_days}) AS BIGINT)
ORDER BY period
