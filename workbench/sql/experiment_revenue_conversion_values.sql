-- experiment_revenue_conversion_values: revenue events of the A/B analysis from the optional
-- value column of the conversions, used when no transactions table is given. Conversions
-- without a value carry no revenue.
--
-- Input view: conversions(user_id, timestamp DOUBLE days, value).
SELECT
    CAST(user_id AS STRING) AS user_id,
    timestamp,
    CAST(value AS DOUBLE) AS amount
FROM conversions
WHERE value IS NOT NULL
