-- patterns: the model's sufficient statistics, one row per unique exposure pattern.
--
-- Journeys with the same codes k_0..k_{{C-1}}, first (opening) and last (closing) channel and
-- split share one Binomial likelihood term, so millions of journeys collapse losslessly to the
-- unique patterns with n_journeys trials and n_conversions successes.
--
-- Input: journey_codes (the journey_codes step).
SELECT
    {code_names},
    first_channel,
    last_channel,
    CASE WHEN holdout = 1 THEN TRUE ELSE FALSE END AS holdout,
    CAST(COUNT(*) AS BIGINT) AS n_journeys,
    CAST(SUM(converted) AS BIGINT) AS n_conversions
FROM journey_codes
GROUP BY {code_names}, first_channel, last_channel, holdout
