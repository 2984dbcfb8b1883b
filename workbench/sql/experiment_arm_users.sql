-- experiment_arm_users: every arm named in the assignments, with its users before and after
-- leaving out users assigned to several arms; an arm whose users were all left out is named
-- in the error instead of vanishing from the analysis.
--
-- Inputs: assignments(user_id, arm, assigned_at), experiment_assigned (experiment_assigned.sql).
WITH named AS (
    SELECT
        CAST(arm AS STRING) AS arm,
        CAST(COUNT(DISTINCT CAST(user_id AS STRING)) AS BIGINT) AS users_assigned
    FROM assignments
    GROUP BY CAST(arm AS STRING)
),
kept AS (
    SELECT arm, CAST(COUNT(*) AS BIGINT) AS users_kept
    FROM experiment_assigned
    WHERE n_arms = 1
    GROUP BY arm
)
SELECT
    named.arm,
    named.users_assigned,
    CAST(COALESCE(kept.users_kept, 0) AS BIGINT) AS users_kept
FROM named
LEFT JOIN kept ON kept.arm = named.arm
ORDER BY named.arm
