-- experiment_conversion_counts: how many users of each arm have 0, 1, 2, ... counted
-- conversions (for conversions per user in a channel hold-out).
--
-- Input: experiment_users (experiment_users.sql).
SELECT
    arm,
    n_conversions,
    CAST(COUNT(*) AS BIGINT) AS n_users
FROM experiment_users
GROUP BY arm, n_conversions
ORDER BY arm, n_conversions
