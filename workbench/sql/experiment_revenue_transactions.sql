-- experiment_revenue_transactions: revenue events of the A/B analysis from the transactions
-- table; customer_id is the same person as user_id in the assignments.
--
-- Input view: transactions(customer_id, timestamp DOUBLE days, amount).
SELECT
    CAST(customer_id AS STRING) AS user_id,
    timestamp,
    CAST(amount AS DOUBLE) AS amount
FROM transactions
