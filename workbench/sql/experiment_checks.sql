-- experiment_checks: what the analysis left out, by reason, so that it is reported and never
-- dropped silently: users assigned to several arms (excluded), conversions and orders before
-- the user's assignment (not counted), conversions after the end of the test (not counted),
-- and conversions of users who are not in the assignments (not in the test). One row; each
-- input is scanned once.
--
-- Inputs: assignments, experiment_assigned, experiment_users, conversions.
WITH assignment_rows AS (
    SELECT CAST(COUNT(*) AS BIGINT) AS assignment_rows
    FROM assignments
),
assigned AS (
    SELECT
        CAST(COUNT(*) AS BIGINT) AS users_assigned,
        CAST(COALESCE(SUM(CASE WHEN n_arms > 1 THEN 1 ELSE 0 END), 0) AS BIGINT)
            AS users_in_several_arms
    FROM experiment_assigned
),
analysed AS (
    SELECT
        CAST(COALESCE(SUM(n_conversions_before), 0) AS BIGINT) AS conversions_before_assignment,
        CAST(COALESCE(SUM(CASE WHEN n_conversions_before > 0 THEN 1 ELSE 0 END), 0) AS BIGINT)
            AS users_converted_before_assignment,
        CAST(COALESCE(SUM(n_orders_before), 0) AS BIGINT) AS orders_before_assignment,
        CAST(COALESCE(SUM(n_conversions_after_end), 0) AS BIGINT) AS conversions_after_end
    FROM experiment_users
),
unassigned AS (
    SELECT CAST(COUNT(*) AS BIGINT) AS unassigned_conversions
    FROM conversions c
    LEFT JOIN experiment_assigned a ON CAST(c.user_id AS STRING) = a.user_id
    WHERE a.user_id IS NULL
)
SELECT
    assignment_rows.assignment_rows,
    assigned.users_assigned,
    assigned.users_in_several_arms,
    analysed.conversions_before_assignment,
    analysed.users_converted_before_assignment,
    analysed.orders_before_assignment,
    analysed.conversions_after_end,
    unassigned.unassigned_conversions
FROM assignment_rows
CROSS JOIN assigned
CROSS JOIN analysed
CROSS JOIN unassigned
