-- weekly_touches: touches and distinct users reached per channel and week, for planning.
--
-- Weeks start on day {week_offset_days} after a multiple of 7 days since 1970-01-01
-- (1970-01-05 was a Monday, so an offset of 4 gives Monday weeks); week_start is in days since
-- the epoch. All touches count here, whatever the lookback window. The distinct count runs on
-- integer keys (week number, channel index, users on their stored id type); channel names are
-- joined to the small result.
--
-- Inputs: touch_events(user_id, event_time [days since epoch], channel_index) (the
-- touch_events step: every touchpoint), journey_channels.
WITH counts AS (
    SELECT
        CAST(FLOOR((t.event_time - {week_offset_days}) / 7) AS BIGINT) AS week,
        t.channel_index,
        CAST(COUNT(*) AS BIGINT) AS n_touches,
        CAST(COUNT(DISTINCT t.user_id) AS BIGINT) AS n_users
    FROM touch_events AS t
    GROUP BY CAST(FLOOR((t.event_time - {week_offset_days}) / 7) AS BIGINT), t.channel_index
)
SELECT
    CAST(c.week * 7 + {week_offset_days} AS DOUBLE) AS week_start,
    ch.channel,
    c.n_touches,
    c.n_users
FROM counts AS c
JOIN journey_channels AS ch ON c.channel_index = ch.channel_index
