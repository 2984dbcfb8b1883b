-- journey_codes: one row per journey with touches in the window, its exposure code per channel.
--
-- The code of channel c is sum_b min(n_cb, {count_cap}) * {code_base}**b over recency bins b
-- (b = 0 the most recent), so a pattern of counts per (channel, bin) is one integer per channel.
-- One GROUP BY over the touches counts every (channel, bin) cell as its own column; the codes
-- are then plain arithmetic on those counts. first_channel is the channel index of the
-- journey's first touch in the window. The holdout rule hashes the user id once per journey.
--
-- Input: journey_touches (the journeys step). The cell counts n_c_b and the code columns
-- k_0..k_{{C-1}} are generated per channel and bin.
WITH cells AS (
    SELECT
        user_id, journey,
        MAX(converted) AS converted,
        MAX(end_time) AS end_time,
        CAST(COUNT(*) AS BIGINT) AS n_touches,
        MAX(CASE WHEN is_first = 1 THEN channel_index END) AS first_channel,
        {cell_columns}
    FROM journey_touches
    GROUP BY user_id, journey
)
SELECT
    user_id, journey, converted, end_time,
    CASE WHEN substr(md5(CAST(user_id AS STRING)), 1, 1) IN ({holdout_digits}) THEN 1 ELSE 0 END
        AS holdout,
    n_touches,
    CAST(first_channel AS BIGINT) AS first_channel,
    {code_columns}
FROM cells
