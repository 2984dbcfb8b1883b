-- experiment_assigned: one row per user in the assignments, with the user's arm, the time of
-- their first assignment and how many distinct arms they were assigned to.
--
-- Input view: assignments(user_id, arm, assigned_at DOUBLE days since 1970-01-01).
-- Repeated rows of the same user and arm are one assignment at its first time. A user assigned
-- to several arms cannot be counted in any of them: they keep one row here with n_arms > 1, so
-- that the next steps count them and leave them out.
SELECT
    CAST(user_id AS STRING) AS user_id,
    MIN(CAST(arm AS STRING)) AS arm,
    CAST(COUNT(DISTINCT CAST(arm AS STRING)) AS BIGINT) AS n_arms,
    MIN(assigned_at) AS assigned_at
FROM assignments
GROUP BY CAST(user_id AS STRING)
