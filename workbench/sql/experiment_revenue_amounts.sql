-- experiment_revenue_amounts: the distinct positive revenues per purchaser in each arm, with how
-- many purchasers have each; the Bayesian bootstrap of the mean amount needs only this.
--
-- Input: experiment_users (experiment_users.sql).
SELECT
    arm,
    revenue AS amount,
    CAST(COUNT(*) AS BIGINT) AS n_users
FROM experiment_users
WHERE revenue > 0
GROUP BY arm, revenue
ORDER BY arm, amount
