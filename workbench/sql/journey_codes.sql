-- journey_codes: one row per journey with touches in the window, its exposure code per channel.
--
-- A converted journey is evaluated at its conversion. A non-converting journey is evaluated at
-- its estimated decision time: its last touch L plus a position times its observable window
-- LEAST({data_end} - L, {lookback_days}) (position 0 = right after the last touch, 1 = at the end
-- of what can be observed). The position, {decision_position}, is one literal or one of equally
-- likely positions picked by a hash of the user id, per class of the journey's touch count
-- n_journey_touches ({journey_touch_count}: a constant when positions are not spread)
-- (workbench.decisions, from the journey_decisions step), and within a class per channel of the
-- journey's last touch, journey_last_channel ({journey_last_channel}: a constant when the
-- positions do not depend on it). When the converted journeys support a gap model
-- (workbench.decisions) the position is instead the journey's predicted gap after its last touch
-- over its window, capped at 1: it reads the touch count, span_days ({journey_span}: days from
-- the journey's first to its last touch in the window; a constant when unused) and the channel
-- of the last touch. Ages are shifted by
-- that much, touches {lookback_days} days old or older at a shifted decision are dropped (the
-- decision lies past the lookback after them; an unshifted journey keeps a touch exactly on the
-- edge, as in the journeys step) and the recency bins are taken on the shifted ages (rounded to {age_decimals}
-- decimals). Each journey's shift_days is returned with its codes, so later steps (the lift
-- rows) read the placement from here.
--
-- The code of channel c is sum_b min(n_cb, {count_cap}) * {code_base}**b over recency bins b
-- (b = 0 the most recent), so a pattern of counts per (channel, bin) is one integer per channel.
-- One GROUP BY over the touches counts every (channel, bin) cell as its own column; the codes
-- are then plain arithmetic on those counts. first_channel and last_channel are the channel
-- indices of the journey's first and last touch in the window (ties in time: lower channel index
-- first), found as the largest and smallest key age_microdays * {n_channels} + ({n_channels} - 1 -
-- channel_index). The holdout rule hashes the user id once per journey.
--
-- x_c_b is 1 + the number of touches above the cap in cell (c, b) when the cell is at the cap,
-- 0 below it (at most {max_excess}): over the cells at the cap its mean, less 1, plus the cap is
-- what a code at the cap stands for in the model.
--
-- Input: journey_touches (the journeys step). The cell counts n_c_b, the code columns
-- k_0..k_{{C-1}} and the excess columns x_c_b are generated per channel and bin.
WITH counted AS (
    SELECT
        user_id, journey, converted, end_time, channel_index, age_days,
        {journey_touch_count} AS n_journey_touches,
        {journey_span} AS span_days,
        {journey_last_channel} AS journey_last_channel,
        LEAST({data_end} - end_time, {lookback_days}) AS window_days
    FROM journey_touches
),
shifts AS (
    SELECT
        user_id, journey, converted, end_time, channel_index, age_days AS touch_age_days,
        CASE
            WHEN converted = 0
            THEN ROUND({decision_position} * window_days, {age_decimals})
            ELSE 0.0
        END AS shift_days
    FROM counted
),
shifted AS (
    SELECT
        user_id, journey, converted, end_time, channel_index, shift_days,
        ROUND(touch_age_days + shift_days, {age_decimals}) AS age_days
    FROM shifts
),
kept AS (
    SELECT
        user_id, journey, converted, end_time, channel_index, shift_days,
        CASE {recency_bin_cases} END AS recency_bin,
        CAST(ROUND(age_days * 1000000) AS BIGINT) * {n_channels}
            + ({n_channels} - 1 - channel_index) AS order_key
    FROM shifted
    WHERE age_days < {lookback_days} OR (age_days = {lookback_days} AND shift_days = 0.0)
),
-- converted, end_time and shift_days are the same on every touch of a journey: grouping by them
-- instead of aggregating them, and counting the cells with COUNT (8-byte states) instead of SUMs,
-- shrinks the per-journey state of this GROUP BY (2M journeys: about 0.5 CPU s less, less spilled
-- under DuckDB's memory limit)
cells AS (
    SELECT
        user_id, journey, converted, end_time, shift_days,
        CAST(COUNT(*) AS BIGINT) AS n_touches,
        MAX(order_key) AS first_key,
        MIN(order_key) AS last_key,
        {cell_columns}
    FROM kept
    GROUP BY user_id, journey, converted, end_time, shift_days
)
SELECT
    user_id, journey, converted, end_time,
    CASE WHEN substr(md5(CAST(user_id AS STRING)), 1, 1) IN ({holdout_digits}) THEN 1 ELSE 0 END
        AS holdout,
    n_touches,
    shift_days,
    CAST({n_channels} - 1 - first_key % {n_channels} AS BIGINT) AS first_channel,
    CAST({n_channels} - 1 - last_key % {n_channels} AS BIGINT) AS last_channel,
    {code_columns},
    {excess_columns}
FROM cells
