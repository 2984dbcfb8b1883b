-- journey_codes: one row per journey with touches in the window, its exposure code per channel.
--
-- The code of channel c is sum_b min(n_cb, {count_cap}) * {code_base}**b over recency bins b
-- (b = 0 the most recent), so a pattern of counts per (channel, bin) is one integer per channel.
-- first_channel is the channel index of the journey's first touch in the window.
--
-- Input: journey_touches (the journeys step). Columns k_0..k_{{C-1}} are generated per channel.
WITH cells AS (
    SELECT
        user_id, journey, channel_index, recency_bin,
        LEAST(COUNT(*), {count_cap}) AS n_capped
    FROM journey_touches
    GROUP BY user_id, journey, channel_index, recency_bin
),
codes AS (
    SELECT
        user_id, journey,
        {code_columns}
    FROM cells
    GROUP BY user_id, journey
),
heads AS (
    SELECT user_id, journey, converted, end_time, holdout, n_touches,
           channel_index AS first_channel
    FROM journey_touches
    WHERE touch_order = 1
)
SELECT
    h.user_id, h.journey, h.converted, h.end_time, h.holdout, h.n_touches, h.first_channel,
    {code_names}
FROM heads AS h
JOIN codes AS c ON h.user_id = c.user_id AND h.journey = c.journey
