-- experiment_users: one row per analysed user (assigned to exactly one arm) with what counts
-- in the test: conversions and revenue from the assignment on, up to the end of the test.
--
-- Inputs: experiment_assigned (experiment_assigned.sql), conversions(user_id, timestamp),
-- experiment_revenue_events(user_id, timestamp, amount) (one of the experiment_revenue_*
-- steps). Timestamps are DOUBLE days since 1970-01-01; {end_day} is the end of the test in the
-- same unit (exclusive; a far-away day when no end is given).
-- Events before the user's assignment cannot have been caused by the arm: they are not counted
-- but counted apart (n_conversions_before, n_orders_before), as are events after the end.
WITH analysed AS (
    SELECT user_id, arm, assigned_at
    FROM experiment_assigned
    WHERE n_arms = 1
),
conversion_counts AS (
    SELECT
        a.user_id,
        SUM(CASE WHEN c.timestamp >= a.assigned_at AND c.timestamp < CAST({end_day} AS DOUBLE)
                 THEN 1 ELSE 0 END) AS n_conversions,
        SUM(CASE WHEN c.timestamp < a.assigned_at THEN 1 ELSE 0 END) AS n_conversions_before,
        SUM(CASE WHEN c.timestamp >= a.assigned_at AND c.timestamp >= CAST({end_day} AS DOUBLE)
                 THEN 1 ELSE 0 END) AS n_conversions_after_end,
        MAX(CASE WHEN c.timestamp >= a.assigned_at AND c.timestamp < CAST({end_day} AS DOUBLE)
                 THEN c.timestamp END) AS last_conversion
    FROM analysed a
    JOIN conversions c ON CAST(c.user_id AS STRING) = a.user_id
    GROUP BY a.user_id
),
revenue AS (
    SELECT
        a.user_id,
        SUM(CASE WHEN r.timestamp >= a.assigned_at AND r.timestamp < CAST({end_day} AS DOUBLE)
                 THEN r.amount ELSE 0 END) AS revenue,
        SUM(CASE WHEN r.timestamp < a.assigned_at THEN 1 ELSE 0 END) AS n_orders_before
    FROM analysed a
    JOIN experiment_revenue_events r ON r.user_id = a.user_id
    GROUP BY a.user_id
)
SELECT
    a.user_id,
    a.arm,
    a.assigned_at,
    CAST(COALESCE(c.n_conversions, 0) AS BIGINT) AS n_conversions,
    CAST(COALESCE(c.n_conversions_before, 0) AS BIGINT) AS n_conversions_before,
    CAST(COALESCE(c.n_conversions_after_end, 0) AS BIGINT) AS n_conversions_after_end,
    c.last_conversion,
    CAST(COALESCE(r.revenue, 0) AS DOUBLE) AS revenue,
    CAST(COALESCE(r.n_orders_before, 0) AS BIGINT) AS n_orders_before
FROM analysed a
LEFT JOIN conversion_counts c ON c.user_id = a.user_id
LEFT JOIN revenue r ON r.user_id = a.user_id
