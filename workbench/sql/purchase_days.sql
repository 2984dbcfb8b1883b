-- purchase_days: the one scan of the transactions that every CLV query reads. One row per
-- customer and calendar day with the day's total amount and the customer's first purchase day;
-- workbench/rfm.py materialises it (a DuckDB temporary table, a cached Spark view) so that the
-- span, the RFM table and the tracking counts do not each re-read and re-group the source.
--
-- Input view: transactions(customer_id, timestamp DOUBLE days since 1970-01-01, amount).
-- Same-day purchases are one purchase whose amount is the day's total (an amount of 0 is
-- still a purchase). first_day is taken over all days: a customer whose first purchase is in
-- the calibration period has it among the days before any later cut-off.
WITH days AS (
    SELECT
        CAST(customer_id AS STRING) AS customer_id,
        CAST(FLOOR(timestamp) AS DOUBLE) AS day,
        SUM(CAST(amount AS DOUBLE)) AS amount
    FROM transactions
    GROUP BY CAST(customer_id AS STRING), CAST(FLOOR(timestamp) AS DOUBLE)
),
firsts AS (
    -- A grouped minimum joined back: cheaper than MIN(day) OVER (PARTITION BY customer_id).
    SELECT customer_id, MIN(day) AS first_day
    FROM days
    GROUP BY customer_id
)
SELECT
    days.customer_id,
    days.day,
    days.amount,
    firsts.first_day
FROM days
JOIN firsts ON days.customer_id = firsts.customer_id
