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
-- One sort of the events does all the work (the windows of a user share their partition and
-- order; users with and without a conversion are sorted apart, the latter needing fewer window
-- functions): the previous event tells whether a kept touch is the first in its window (no
-- touch before it in the journey, or that touch is outside the window), the next event whether
-- it is the last and which state follows it (the next touch's channel, the conversion, or
-- null).
-- The dropped touches of a journey are always its oldest ones, so the kept touches are
-- consecutive events.
--
-- Inputs: touch_events(user_id, event_time [days since epoch], channel_index) (the
--         touch_events step), conversions(user_id, timestamp [days since epoch]). {user_key} is
--         user_id, or user_id cast to STRING when the two inputs store it with different types
--         (as in touch_events).
-- One row per kept touch; next_state is a channel index, {conversion_code} (conversion) or
-- {null_code} (null).
WITH converters AS (
    SELECT DISTINCT {user_key} AS user_id FROM conversions
),
-- Users with a conversion: their touches and conversions in one time order.
events AS (
    -- event_order sorts events of the same instant: the conversion (0) first, then touches by
    -- channel index (index + 1). One narrow sort key instead of (is_touch, channel_index): the
    -- sort is most of this step's cost.
    SELECT e.user_id, e.event_time, CAST(e.channel_index + 1 AS INT) AS event_order
    FROM touch_events AS e
    JOIN converters AS c ON e.user_id = c.user_id
    UNION ALL
    SELECT {user_key} AS user_id, timestamp AS event_time, CAST(0 AS INT) AS event_order
    FROM conversions
),
converter_events AS (
    SELECT
        user_id, event_time, event_order,
        MIN(CASE WHEN event_order = 0 THEN event_time END) OVER (
            PARTITION BY user_id ORDER BY event_time, event_order
            ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        ) AS next_conversion_time,
        -- for a touch with no conversion after it, the user's last event is its last touch
        -- (the last value of the frame: events are in time order)
        LAST_VALUE(event_time) OVER (
            PARTITION BY user_id ORDER BY event_time, event_order
            ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        ) AS last_event_time,
        SUM(CASE WHEN event_order = 0 THEN 1 ELSE 0 END) OVER (
            PARTITION BY user_id ORDER BY event_time, event_order
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS conversions_before,
        -- the previous event's time when it is a touch (NULL after a conversion or at the start)
        LAG(CASE WHEN event_order > 0 THEN event_time END) OVER user_events
            AS previous_touch_time,
        -- the state after this event: the next touch's channel, the conversion, or null (no
        -- next event)
        LEAD(CASE WHEN event_order > 0 THEN event_order - 1 ELSE {conversion_code} END, 1,
             {null_code}) OVER user_events AS next_state
    FROM events
    -- the neighbours' window; the frames above need their own ROWS clause
    WINDOW user_events AS (PARTITION BY user_id ORDER BY event_time, event_order)
),
-- Users without a conversion (most of them) have one non-converting journey: the same columns
-- with no conversion to look for (no frame over the following events, no running count), which
-- saves a fifth of the step (2M journeys: 4.4 -> 3.7 CPU s). Its end is the user's last touch,
-- found by a GROUP BY, so the touches outside the window are dropped before the sort (they are
-- always a journey's oldest, so the kept ones keep their neighbours: a kept touch's previous
-- touch is kept or it is the first, as the touches step tests, and its next touch is kept): at
-- 2M journeys the window sorts 6M touches instead of 13.7M (3.75 -> 3.37 CPU s, same table).
other_last AS (
    SELECT e.user_id, MAX(e.event_time) AS last_event_time
    FROM touch_events AS e
    LEFT JOIN converters AS c ON e.user_id = c.user_id
    WHERE c.user_id IS NULL
    GROUP BY e.user_id
),
other_events AS (
    SELECT
        e.user_id, e.event_time, CAST(e.channel_index + 1 AS INT) AS event_order,
        CAST(NULL AS DOUBLE) AS next_conversion_time,
        l.last_event_time,
        CAST(0 AS BIGINT) AS conversions_before,
        LAG(e.event_time) OVER user_touches AS previous_touch_time,
        LEAD(e.channel_index, 1, {null_code}) OVER user_touches AS next_state
    FROM touch_events AS e
    JOIN other_last AS l ON e.user_id = l.user_id
    -- the same test as the last step's (age_days <= {lookback_days})
    WHERE ROUND(l.last_event_time - e.event_time, {age_decimals}) <= {lookback_days}
    WINDOW user_touches AS (PARTITION BY e.user_id ORDER BY e.event_time, e.channel_index)
),
ordered AS (
    SELECT
        user_id, event_time, event_order, next_conversion_time, last_event_time,
        conversions_before, previous_touch_time, next_state
    FROM converter_events
    UNION ALL
    SELECT
        user_id, event_time, event_order, next_conversion_time, last_event_time,
        conversions_before, previous_touch_time, next_state
    FROM other_events
),
touches AS (
    SELECT
        user_id,
        CAST(conversions_before AS BIGINT) AS journey,
        CASE WHEN next_conversion_time IS NULL THEN 0 ELSE 1 END AS converted,
        COALESCE(next_conversion_time, last_event_time) AS end_time,
        CAST(event_order - 1 AS BIGINT) AS channel_index,
        ROUND(COALESCE(next_conversion_time, last_event_time) - event_time, {age_decimals})
            AS age_days,
        -- the previous event is a touch of the same journey (no conversion in between)
        CASE
            WHEN previous_touch_time IS NOT NULL
                 AND ROUND(COALESCE(next_conversion_time, last_event_time) - previous_touch_time,
                           {age_decimals}) <= {lookback_days}
            THEN 0 ELSE 1
        END AS is_first,
        CASE WHEN next_state >= 0 THEN 0 ELSE 1 END AS is_last,
        CAST(next_state AS BIGINT) AS next_state
    FROM ordered
    WHERE event_order > 0
)
SELECT
    user_id, journey, converted, end_time, channel_index, age_days,
    CASE {recency_bin_cases} END AS recency_bin,
    is_first, is_last, next_state
FROM touches
WHERE age_days <= {lookback_days}
