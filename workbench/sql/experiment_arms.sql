-- experiment_arms: the sufficient statistics of each arm: users, converting users, conversions,
-- purchasers (revenue > 0) and revenue, with the first and last assignment and the last
-- counted conversion (DOUBLE days since 1970-01-01) for the test window.
--
-- Input: experiment_users (experiment_users.sql).
SELECT
    arm,
    CAST(COUNT(*) AS BIGINT) AS n_users,
    CAST(SUM(CASE WHEN n_conversions > 0 THEN 1 ELSE 0 END) AS BIGINT) AS n_converted,
    CAST(SUM(n_conversions) AS BIGINT) AS n_conversions,
    CAST(SUM(CASE WHEN revenue > 0 THEN 1 ELSE 0 END) AS BIGINT) AS n_purchasers,
    CAST(SUM(revenue) AS DOUBLE) AS revenue_total,
    MIN(assigned_at) AS first_assigned,
    MAX(assigned_at) AS last_assigned,
    MAX(last_conversion) AS last_conversion
FROM experiment_users
GROUP BY arm
ORDER BY arm
