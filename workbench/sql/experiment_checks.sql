-- experiment_checks: what the analysis left out, by reason, so that it is reported and never
-- dropped silently: users assigned to several arms (excluded), conversions and orders before
-- the user's assignment (not counted), conversions after the end of the test (not counted),
-- and conversions of users who are not in the assignments (not in the test).
--
-- Inputs: assignments, experiment_assigned, experiment_users, conversions.
SELECT
    CAST((SELECT COUNT(*) FROM assignments) AS BIGINT) AS assignment_rows,
    CAST((SELECT COUNT(*) FROM experiment_assigned) AS BIGINT) AS users_assigned,
    CAST((SELECT COUNT(*) FROM experiment_assigned WHERE n_arms > 1) AS BIGINT)
        AS users_in_several_arms,
    CAST((SELECT COALESCE(SUM(n_conversions_before), 0) FROM experiment_users) AS BIGINT)
        AS conversions_before_assignment,
    CAST((SELECT COUNT(*) FROM experiment_users WHERE n_conversions_before > 0) AS BIGINT)
        AS users_converted_before_assignment,
    CAST((SELECT COALESCE(SUM(n_orders_before), 0) FROM experiment_users) AS BIGINT)
        AS orders_before_assignment,
    CAST((SELECT COALESCE(SUM(n_conversions_after_end), 0) FROM experiment_users) AS BIGINT)
        AS conversions_after_end,
    CAST((SELECT COUNT(*) FROM conversions c
          LEFT JOIN experiment_assigned a ON CAST(c.user_id AS STRING) = a.user_id
          WHERE a.user_id IS NULL) AS BIGINT) AS unassigned_conversions
