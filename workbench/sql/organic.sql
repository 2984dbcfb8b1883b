-- organic: conversions and how many of them had no touch in the lookback window.
--
-- A conversion is organic (baseline) when no touch of its user falls strictly before it, after
-- the user's previous conversion and within the window; such conversions are counted here and
-- reported, but they carry no channel credit and are not in the pattern table.
--
-- Inputs: conversions, journey_codes (the journey_codes step).
SELECT
    CAST((SELECT COUNT(*) FROM conversions) AS BIGINT) AS observed_conversions,
    CAST((SELECT COUNT(*) FROM conversions)
         - (SELECT COUNT(*) FROM journey_codes WHERE converted = 1) AS BIGINT)
        AS organic_conversions
