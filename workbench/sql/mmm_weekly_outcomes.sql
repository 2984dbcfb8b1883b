-- mmm_weekly_outcomes: the KPI (conversions) per week (and geo), for the media-mix model.
--
-- Weeks as in mmm_weekly_spend.sql; rows of finer periods are summed into their week.
-- {geo_select} is either "geo" or "'national'".
--
-- Inputs: outcomes(period_start [days since epoch], conversions[, geo]).
SELECT
    CAST(FLOOR((period_start - {week_offset_days}) / 7) AS BIGINT) AS week,
    {geo_select} AS geo,
    SUM(conversions) AS conversions,
    COUNT(*) AS n_rows
FROM outcomes
GROUP BY CAST(FLOOR((period_start - {week_offset_days}) / 7) AS BIGINT), {geo_select}
