-- cx_stage_funnel: the journey-stage funnel per entry channel, and for all users together.
--
-- A user *reaches* stage k when they have a touch at stage k or at any later stage (a user who
-- skips a stage has still passed it), and enters it at the first such touch, so entry times
-- never decrease along the funnel. Per (entry channel, stage k):
--   users_reached   users who reached k
--   users_next      of them, users who reached k + 1 (NULL-free: 0 for the last stage)
--   median_days_to_next  median days from entering k to entering k + 1 among users_next
--                   (0 for a user who entered both with one touch)
-- users_reached - users_next is where journeys stall. The entry channel is the channel of the
-- user's first touch (ties in time broken by channel name).
--
-- Input: cx_touches(user_id, timestamp, channel, stage_index), cx_stage_order(stage,
-- stage_index). One row per (channel, stage_index) with users; channel '{all_label}' is every
-- user.
WITH first_at AS (
    SELECT user_id, stage_index, MIN(timestamp) AS first_time
    FROM cx_touches
    GROUP BY user_id, stage_index
),
furthest AS (
    SELECT user_id, MAX(stage_index) AS furthest
    FROM first_at
    GROUP BY user_id
),
entry AS (
    SELECT user_id, channel AS entry_channel
    FROM (
        SELECT
            user_id, channel,
            ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY timestamp, channel) AS rank_in_user
        FROM cx_touches
    ) AS ranked
    WHERE rank_in_user = 1
),
reached AS (
    SELECT g.user_id, g.stage_index, MIN(f.first_time) AS entered
    FROM (
        SELECT u.user_id, o.stage_index
        FROM furthest AS u
        JOIN cx_stage_order AS o ON o.stage_index <= u.furthest
    ) AS g
    JOIN first_at AS f ON f.user_id = g.user_id AND f.stage_index >= g.stage_index
    GROUP BY g.user_id, g.stage_index
),
steps AS (
    SELECT
        r.user_id, e.entry_channel, r.stage_index,
        LEAD(r.entered) OVER (PARTITION BY r.user_id ORDER BY r.stage_index) - r.entered
            AS days_to_next
    FROM reached AS r
    JOIN entry AS e ON e.user_id = r.user_id
)
SELECT
    entry_channel AS channel,
    stage_index,
    COUNT(*) AS users_reached,
    COUNT(days_to_next) AS users_next,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY days_to_next) AS median_days_to_next
FROM steps
GROUP BY entry_channel, stage_index
UNION ALL
SELECT
    '{all_label}' AS channel,
    stage_index,
    COUNT(*) AS users_reached,
    COUNT(days_to_next) AS users_next,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY days_to_next) AS median_days_to_next
FROM steps
GROUP BY stage_index
