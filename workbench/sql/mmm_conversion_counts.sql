-- mmm_conversion_counts: the KPI from the user-level conversions table, counted per week.
--
-- One conversion row is one conversion; weeks as in mmm_weekly_spend.sql (week_start =
-- week * 7 + {week_offset_days} days since the epoch). Weeks without a conversion are absent
-- here and filled with 0 by the pipeline between the first and last week of spend.
--
-- Inputs: conversions(user_id, timestamp [days since epoch]).
SELECT
    CAST(FLOOR((timestamp - {week_offset_days}) / 7) AS BIGINT) AS week,
    'national' AS geo,
    CAST(COUNT(*) AS DOUBLE) AS conversions,
    COUNT(*) AS n_rows
FROM conversions
GROUP BY CAST(FLOOR((timestamp - {week_offset_days}) / 7) AS BIGINT)
