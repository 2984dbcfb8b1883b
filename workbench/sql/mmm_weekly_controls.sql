-- mmm_weekly_controls: control variables averaged per week (and geo), for the media-mix model.
--
-- Weeks as in mmm_weekly_spend.sql. {control_averages} is the generated list
-- AVG(CAST(c AS DOUBLE)) AS c over the validated numeric control columns; {geo_select} is
-- "geo" or "'national'".
--
-- Inputs: controls(period_start [days since epoch][, geo], <numeric columns>).
SELECT
    CAST(FLOOR((period_start - {week_offset_days}) / 7) AS BIGINT) AS week,
    {geo_select} AS geo,
    {control_averages}
FROM controls
GROUP BY CAST(FLOOR((period_start - {week_offset_days}) / 7) AS BIGINT), {geo_select}
