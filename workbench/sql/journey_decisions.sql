-- journey_decisions: where, inside its observable window, each converted journey's decision fell.
--
-- A journey's observable window after its last touch L runs until the data end (the latest
-- touch or conversion in the inputs) or until the lookback after L has passed, whichever comes
-- first: window = LEAST(data_end - L, {lookback_days}). A converted journey's decision (its
-- conversion) came lag = conversion - L days after L, so position = lag / window is 0 when users
-- decide right after their last touch and 1 when they decide at the end of what can be observed
-- (for example on a common date at the campaign's end). The attribution step places
-- non-converting journeys' decisions from these positions (workbench.decisions; docs/contracts.md,
-- "Journeys"); user_id and end_time (the conversion) key each journey for that step's weights,
-- n_touches (touches in the lookback window) and last_channel (the channel index of its last
-- touch; ties in time: the higher index, as journey_codes' last_channel) class it, and span_days
-- (days from its first to its last touch in the window) enters its gap model.
--
-- The data end comes from the staged tables, not from another scan of the raw touchpoints: a
-- user's last event is a conversion (in conversions) or a touch that ends the user's
-- non-converting journey with age 0 (in journey_touches as its end_time), so the latest touch
-- or conversion is the larger of MAX(journey_touches.end_time) and MAX(conversions.timestamp).
-- Every row carries it (data_end), so the caller needs no query of its own.
--
-- Inputs: journey_touches (the journeys step; a converted journey's youngest touch has
-- age_days = lag), conversions. One row per converted journey with a positive window.
WITH data_end AS (
    SELECT GREATEST(
        (SELECT MAX(end_time) FROM journey_touches), (SELECT MAX(timestamp) FROM conversions)
    ) AS data_end
),
converted AS (
    SELECT user_id, journey, MAX(end_time) AS end_time, MIN(age_days) AS lag_days,
           CAST(COUNT(*) AS BIGINT) AS n_touches, MAX(age_days) - MIN(age_days) AS span_days,
           CAST(999 - MIN(CAST(ROUND(age_days * 1000000) AS BIGINT) * 1000
               + (999 - channel_index)) % 1000 AS BIGINT) AS last_channel
    FROM journey_touches
    WHERE converted = 1
    GROUP BY user_id, journey
),
windows AS (
    SELECT
        CAST(c.user_id AS STRING) AS user_id,
        c.end_time,
        c.n_touches,
        c.span_days,
        c.last_channel,
        lag_days,
        LEAST(d.data_end - (c.end_time - c.lag_days), {lookback_days}) AS window_days,
        d.data_end
    FROM converted AS c
    CROSS JOIN data_end AS d
)
SELECT user_id, end_time, n_touches, span_days, last_channel, lag_days, window_days,
       LEAST(lag_days / window_days, 1.0) AS position, data_end
FROM windows
WHERE window_days > 0
