-- heuristics: conversions credited to each channel by the rule-based baselines.
--
-- Over converting journeys only (touches in the window), each touch gets a weight per rule and
-- the weights of one journey sum to 1:
--   first_touch     1 for the first touch
--   last_touch      1 for the last touch
--   linear          1 / n for each of the n touches
--   time_decay      2 ** (-age_days / {half_life_days}), normalised within the journey
--   position_based  {position_end_share} to the first and to the last touch and the rest shared
--                   equally by the middle touches; 1 touch gets 1, 2 touches get 1/2 each.
-- First and last are the journeys step's is_first / is_last (ties in time broken by channel
-- index). Per-journey totals come from a GROUP BY joined back, not from a window, so no sort.
--
-- Inputs: journey_touches (the journeys step), journey_channels. One row per channel.
WITH touches AS (
    SELECT
        user_id, journey, channel_index, is_first, is_last,
        POWER(CAST(0.5 AS DOUBLE), age_days / {half_life_days}) AS decay
    FROM journey_touches
    WHERE converted = 1
),
totals AS (
    SELECT user_id, journey, COUNT(*) AS n_touches, SUM(decay) AS decay_total
    FROM touches
    GROUP BY user_id, journey
),
credit AS (
    SELECT
        t.channel_index,
        SUM(t.is_first) AS first_touch,
        SUM(t.is_last) AS last_touch,
        SUM(CAST(1 AS DOUBLE) / j.n_touches) AS linear,
        SUM(t.decay / j.decay_total) AS time_decay,
        SUM(
            CASE
                WHEN j.n_touches = 1 THEN CAST(1 AS DOUBLE)
                WHEN j.n_touches = 2 THEN CAST(0.5 AS DOUBLE)
                WHEN t.is_first = 1 OR t.is_last = 1 THEN CAST({position_end_share} AS DOUBLE)
                ELSE (1 - 2 * CAST({position_end_share} AS DOUBLE)) / (j.n_touches - 2)
            END
        ) AS position_based
    FROM touches AS t
    JOIN totals AS j ON t.user_id = j.user_id AND t.journey = j.journey
    GROUP BY t.channel_index
)
SELECT ch.channel, c.*
FROM credit AS c
JOIN journey_channels AS ch ON c.channel_index = ch.channel_index
