-- journeys: every touch assigned to the journey it belongs to, with its age, recency bin,
-- whether it opens or closes the journey's window, and the state that follows it.
--
-- A user's events (touches and conversions) are ordered in time; a conversion at the same
-- instant as a touch sorts first, so a conversion credits only touches strictly before it, and
-- touches at the same instant are ordered by channel index. Each touch belongs to the user's
-- next conversion after it (journey = number of conversions before the touch). Touches after
-- the user's last conversion form one non-converting journey that ends at the user's last
-- touch. Touches older than {lookback_days} days at the journey's end are dropped. Ages are
-- rounded to {age_decimals} decimals so that both engines bin a touch exactly on a bin edge the
-- same way.
--
-- One sort of the events does all the work (every window below shares its partition and
-- order): the previous event tells whether a kept touch is the first in its window (no touch
-- before it in the journey, or that touch is outside the window), the next event whether it is
-- the last and which state follows it (the next touch's channel, the conversion, or null).
-- The dropped touches of a journey are always its oldest ones, so the kept touches are
-- consecutive events.
--
-- Inputs: touchpoints(user_id, timestamp [days since epoch], channel),
--         conversions(user_id, timestamp [days since epoch]), journey_channels (channel,
--         channel_index). {user_key} is user_id, or user_id cast to STRING when the two inputs
-- store it with different types.
-- One row per kept touch; next_state is a channel index, {conversion_code} (conversion) or
-- {null_code} (null).
WITH events AS (
    SELECT {user_key} AS user_id, t.timestamp AS event_time, 1 AS is_touch, ch.channel_index
    FROM touchpoints AS t
    JOIN journey_channels AS ch ON t.channel = ch.channel
    UNION ALL
    SELECT {user_key} AS user_id, timestamp AS event_time, 0 AS is_touch,
           CAST(NULL AS BIGINT) AS channel_index
    FROM conversions
),
ordered AS (
    SELECT
        user_id, event_time, is_touch, channel_index,
        MIN(CASE WHEN is_touch = 0 THEN event_time END) OVER (
            PARTITION BY user_id ORDER BY event_time, is_touch, channel_index
            ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        ) AS next_conversion_time,
        -- for a touch with no conversion after it, the user's last event is its last touch
        MAX(event_time) OVER (
            PARTITION BY user_id ORDER BY event_time, is_touch, channel_index
            ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        ) AS last_event_time,
        SUM(1 - is_touch) OVER (
            PARTITION BY user_id ORDER BY event_time, is_touch, channel_index
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS conversions_before,
        LAG(is_touch) OVER user_events AS previous_is_touch,
        LAG(event_time) OVER user_events AS previous_time,
        LEAD(is_touch) OVER user_events AS next_is_touch,
        LEAD(channel_index) OVER user_events AS next_channel_index
    FROM events
    -- the neighbours' window; the frames above need their own ROWS clause
    WINDOW user_events AS (PARTITION BY user_id ORDER BY event_time, is_touch, channel_index)
),
touches AS (
    SELECT
        user_id,
        CAST(conversions_before AS BIGINT) AS journey,
        CASE WHEN next_conversion_time IS NULL THEN 0 ELSE 1 END AS converted,
        COALESCE(next_conversion_time, last_event_time) AS end_time,
        channel_index,
        ROUND(COALESCE(next_conversion_time, last_event_time) - event_time, {age_decimals})
            AS age_days,
        -- the previous event is a touch of the same journey (no conversion in between)
        CASE
            WHEN previous_is_touch = 1
                 AND ROUND(COALESCE(next_conversion_time, last_event_time) - previous_time,
                           {age_decimals}) <= {lookback_days}
            THEN 0 ELSE 1
        END AS is_first,
        CASE WHEN next_is_touch = 1 THEN 0 ELSE 1 END AS is_last,
        CAST(CASE
            WHEN next_is_touch = 1 THEN next_channel_index
            WHEN next_is_touch = 0 THEN {conversion_code}
            ELSE {null_code}
        END AS BIGINT) AS next_state
    FROM ordered
    WHERE is_touch = 1
)
SELECT
    user_id, journey, converted, end_time, channel_index, age_days,
    CASE {recency_bin_cases} END AS recency_bin,
    is_first, is_last, next_state
FROM touches
WHERE age_days <= {lookback_days}
