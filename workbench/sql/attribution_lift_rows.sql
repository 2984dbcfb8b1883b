-- attribution_lift_rows: for each lift test, the journeys decided inside its window that have a
-- touch of its channel inside the window, grouped by what the model's lift needs
-- (attribution/lift.py): the journey's codes and opening channel, the channel's code without its
-- in-window touches, and whether one of those touches opened the journey.
--
-- A journey's decision is its conversion, or for a non-converting journey its estimated decision
-- time: its end (last touch) + the shift_days the journey_codes step placed it at (read from
-- that step's table, with its codes and first_channel, so the placement lives in one place).
-- Touches are kept as there: shifted age < {lookback_days}, or exactly {lookback_days} for an
-- unshifted journey. A window is
-- [start_day, end_day) in days since 1970-01-01 (end_day is the day after the test's last day).
-- The channel's remaining code counts its kept touches before start_day in the same recency
-- bins, capped at {count_cap}: sum_b LEAST(n_b, {count_cap}) * {code_base}**b. Touches before
-- start stay in both the journey and its counterfactual (their effect is not the test's).
-- The channel opened the journey when first_channel is its index; the opening touch is then the
-- channel's earliest kept touch, removed when it lies inside the window.
--
-- Inputs: journey_touches (journeys step), journey_codes (journey_codes step), lift_tests(test,
-- channel_index, start_day, end_day). The columns k_0..k_{{C-1}} and removed_code are generated.
WITH shifts AS (
    SELECT
        t.user_id, t.journey, t.channel_index, t.end_time - t.age_days AS touch_time,
        t.age_days, c.shift_days, t.end_time
    FROM journey_touches AS t
    JOIN journey_codes AS c ON t.user_id = c.user_id AND t.journey = c.journey
),
kept AS (
    SELECT
        user_id, journey, channel_index, touch_time, shift_days,
        end_time + shift_days AS decision_time,
        ROUND(age_days + shift_days, {age_decimals}) AS age_days
    FROM shifts
),
window_touches AS (
    SELECT
        t.test, t.start_day, k.user_id, k.journey, k.touch_time,
        CASE {recency_bin_cases} END AS recency_bin,
        CASE WHEN k.touch_time >= t.start_day AND k.touch_time < t.end_day THEN 1 ELSE 0 END
            AS in_window
    FROM kept AS k
    JOIN lift_tests AS t ON k.channel_index = t.channel_index
    WHERE (k.age_days < {lookback_days} OR (k.age_days = {lookback_days} AND k.shift_days = 0.0))
      AND k.decision_time >= t.start_day AND k.decision_time < t.end_day
),
per_journey AS (
    SELECT
        test, user_id, journey,
        MAX(in_window) AS touched_in_window,
        CASE WHEN MIN(touch_time) >= MIN(start_day) THEN 1 ELSE 0 END AS earliest_in_window,
        {removed_cells}
    FROM window_touches
    GROUP BY test, user_id, journey
),
joined AS (
    SELECT
        p.test,
        {code_columns},
        c.first_channel,
        CAST({removed_code} AS BIGINT) AS removed_code,
        CAST(CASE WHEN c.first_channel = t.channel_index AND p.earliest_in_window = 1
                  THEN 1 ELSE 0 END AS BIGINT) AS opener_removed
    FROM per_journey AS p
    JOIN journey_codes AS c ON p.user_id = c.user_id AND p.journey = c.journey
    JOIN lift_tests AS t ON p.test = t.test
    WHERE p.touched_in_window = 1
)
SELECT
    test, {code_names}, first_channel, removed_code, opener_removed,
    CAST(COUNT(*) AS BIGINT) AS n_journeys
FROM joined
GROUP BY test, {code_names}, first_channel, removed_code, opener_removed
