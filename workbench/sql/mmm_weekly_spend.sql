-- mmm_weekly_spend: spend per week, channel (and geo), for the media-mix model.
--
-- Weeks start on day {week_offset_days} after a multiple of 7 days since 1970-01-01 (the
-- weekday of the first outcome period), week_start in days since the epoch. Daily (or any
-- finer) spend rows are summed into their week; a channel's missing weeks are filled with 0
-- by the pipeline. {geo_select} is either "geo" or "'national'" (no geo column).
--
-- Inputs: spend(channel, period_start [days since epoch], spend[, geo]).
SELECT
    CAST(FLOOR((period_start - {week_offset_days}) / 7) AS BIGINT) AS week,
    {geo_select} AS geo,
    channel,
    SUM(spend) AS spend
FROM spend
GROUP BY CAST(FLOOR((period_start - {week_offset_days}) / 7) AS BIGINT), {geo_select}, channel
