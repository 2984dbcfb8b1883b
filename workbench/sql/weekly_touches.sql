-- weekly_touches: touches and distinct users reached per channel and week, for planning.
--
-- Weeks start on day {week_offset_days} after a multiple of 7 days since 1970-01-01
-- (1970-01-05 was a Monday, so an offset of 4 gives Monday weeks); week_start is in days since
-- the epoch. All touches count here, whatever the lookback window. Users are counted on their
-- stored id type (a distinct count needs no cast to text).
--
-- Input: touchpoints(user_id, timestamp [days since epoch], channel).
SELECT
    CAST(FLOOR((timestamp - {week_offset_days}) / 7) * 7 + {week_offset_days} AS DOUBLE)
        AS week_start,
    channel,
    CAST(COUNT(*) AS BIGINT) AS n_touches,
    CAST(COUNT(DISTINCT user_id) AS BIGINT) AS n_users
FROM touchpoints
GROUP BY FLOOR((timestamp - {week_offset_days}) / 7) * 7 + {week_offset_days}, channel
