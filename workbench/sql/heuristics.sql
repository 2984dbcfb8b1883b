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
-- Ties in time are broken by channel index (the journeys step's touch_order).
--
-- Input: journey_touches (the journeys step). One row per channel.
WITH weighted AS (
    SELECT
        channel,
        channel_index,
        touch_order,
        n_touches,
        POWER(CAST(0.5 AS DOUBLE), age_days / {half_life_days}) AS decay,
        SUM(POWER(CAST(0.5 AS DOUBLE), age_days / {half_life_days})) OVER (PARTITION BY user_id, journey)
            AS decay_total
    FROM journey_touches
    WHERE converted = 1
)
SELECT
    channel,
    channel_index,
    SUM(CASE WHEN touch_order = 1 THEN 1 ELSE 0 END) AS first_touch,
    SUM(CASE WHEN touch_order = n_touches THEN 1 ELSE 0 END) AS last_touch,
    SUM(CAST(1 AS DOUBLE) / n_touches) AS linear,
    SUM(decay / decay_total) AS time_decay,
    SUM(
        CASE
            WHEN n_touches = 1 THEN CAST(1 AS DOUBLE)
            WHEN n_touches = 2 THEN CAST(0.5 AS DOUBLE)
            WHEN touch_order = 1 OR touch_order = n_touches THEN CAST({position_end_share} AS DOUBLE)
            ELSE (1 - 2 * CAST({position_end_share} AS DOUBLE)) / (n_touches - 2)
        END
    ) AS position_based
FROM weighted
GROUP BY channel, channel_index
