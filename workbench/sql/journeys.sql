-- journeys: every touch assigned to the journey it belongs to, with its age and recency bin.
--
-- A user's events (touches and conversions) are ordered in time; a conversion at the same
-- instant as a touch sorts first, so a conversion credits only touches strictly before it.
-- Each touch belongs to the user's next conversion after it (journey = number of conversions
-- before the touch). Touches after the user's last conversion form one non-converting journey
-- that ends at the user's last touch. Touches older than {lookback_days} days at the journey's
-- end are dropped. Ages are rounded to {age_decimals} decimals so that both engines bin a touch
-- exactly on a bin edge the same way.
--
-- Inputs: touchpoints(user_id, timestamp [days since epoch], channel),
--         conversions(user_id, timestamp [days since epoch]).
-- One row per kept touch.
WITH events AS (
    SELECT CAST(user_id AS STRING) AS user_id, timestamp AS event_time, 1 AS is_touch, channel
    FROM touchpoints
    UNION ALL
    SELECT CAST(user_id AS STRING) AS user_id, timestamp AS event_time, 0 AS is_touch,
           CAST(NULL AS STRING) AS channel
    FROM conversions
),
ordered AS (
    SELECT
        user_id, event_time, is_touch, channel,
        MIN(CASE WHEN is_touch = 0 THEN event_time END) OVER (
            PARTITION BY user_id ORDER BY event_time, is_touch
            ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        ) AS next_conversion_time,
        SUM(1 - is_touch) OVER (
            PARTITION BY user_id ORDER BY event_time, is_touch
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS conversions_before,
        MAX(CASE WHEN is_touch = 1 THEN event_time END) OVER (PARTITION BY user_id)
            AS last_touch_time
    FROM events
),
touches AS (
    SELECT
        user_id,
        CAST(conversions_before AS BIGINT) AS journey,
        CASE WHEN next_conversion_time IS NULL THEN 0 ELSE 1 END AS converted,
        COALESCE(next_conversion_time, last_touch_time) AS end_time,
        event_time AS touch_time,
        channel,
        ROUND(COALESCE(next_conversion_time, last_touch_time) - event_time, {age_decimals})
            AS age_days
    FROM ordered
    WHERE is_touch = 1
),
channels AS (
    -- channels are indexed 0..C-1 in sorted order of name
    SELECT channel, CAST(DENSE_RANK() OVER (ORDER BY channel) - 1 AS BIGINT) AS channel_index
    FROM (SELECT DISTINCT channel FROM touchpoints) AS c
),
kept AS (
    SELECT t.*, ch.channel_index
    FROM touches AS t
    JOIN channels AS ch ON t.channel = ch.channel
    WHERE t.age_days <= {lookback_days}
)
SELECT
    user_id,
    journey,
    converted,
    end_time,
    touch_time,
    channel,
    channel_index,
    age_days,
    CASE {recency_bin_cases} END AS recency_bin,
    CAST(ROW_NUMBER() OVER (
        PARTITION BY user_id, journey ORDER BY touch_time, channel_index
    ) AS BIGINT) AS touch_order,
    CAST(COUNT(*) OVER (PARTITION BY user_id, journey) AS BIGINT) AS n_touches,
    CASE WHEN substr(md5(user_id), 1, 1) IN ({holdout_digits}) THEN 1 ELSE 0 END AS holdout
FROM kept
