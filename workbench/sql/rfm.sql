-- rfm: one row per customer whose first purchase falls in the calibration period, with the
-- BG/NBD and Gamma-Gamma sufficient statistics in exact fractional time units.
--
-- Input: purchase_days(customer_id, day, amount, first_day) from purchase_days.sql (one row
-- per customer and purchase day, days since 1970-01-01).
-- Parameters (numbers, filled in by workbench/rfm.py):
--   {calibration_end}  last calendar day of the calibration period, as days since the epoch
--   {holdout_end}      last calendar day of the holdout period (= calibration_end: no holdout)
--   {unit_days}        days per time unit (1, 7 or 30.4375)
--
-- Conventions (those of Fader, Hardie & Lee and of lifetimes' summary_data_from_transaction_data
-- with freq='D' and freq_multiplier=unit_days):
--   * purchases on the same calendar day are one purchase whose amount is the day's total, so
--     frequency counts repeat purchase *days*; an amount of 0 is still a purchase;
--   * recency = (last calibration purchase day - first purchase day) / unit_days,
--     T = (calibration_end - first purchase day) / unit_days, both exact fractions;
--   * monetary_value = mean of the repeat days' totals (the first purchase is left out, as the
--     Gamma-Gamma model asks), 0 for customers without a repeat purchase;
--   * holdout_frequency = purchase days in (calibration_end, holdout_end].
SELECT
    customer_id,
    CAST(SUM(CASE WHEN day > first_day AND day <= {calibration_end} THEN 1 ELSE 0 END)
        AS BIGINT) AS frequency,
    (MAX(CASE WHEN day <= {calibration_end} THEN day END) - first_day) / {unit_days} AS recency,
    ({calibration_end} - first_day) / {unit_days} AS T,
    COALESCE(AVG(CASE WHEN day > first_day AND day <= {calibration_end} THEN amount END), 0.0)
        AS monetary_value,
    CAST(SUM(CASE WHEN day > {calibration_end} AND day <= {holdout_end} THEN 1 ELSE 0 END)
        AS BIGINT) AS holdout_frequency
FROM purchase_days
WHERE first_day <= {calibration_end}
GROUP BY customer_id, first_day
ORDER BY customer_id
