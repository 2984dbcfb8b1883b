-- cx_survey_answers: survey answers with their NPS group, newest answer per customer flagged.
--
-- Groups by score: promoter >= {promoter_min}, passive >= {passive_min}, detractor below. NPS
-- counts every answer; a customer's group for value comparisons is their latest answer
-- (ties in time broken by the higher score).
--
-- {survey_channel} is generated: the optional `channel` column (where the survey was answered)
-- or a NULL string when the table has none.
--
-- Input: cx_surveys(customer_id, timestamp, score[, channel]) with timestamps in days since
-- 1970-01-01 and scores already checked to be integers 0-10. One row per answer.
SELECT
    CAST(customer_id AS STRING) AS customer_id,
    CAST(timestamp AS DOUBLE) AS timestamp,
    CAST(CAST(score AS DOUBLE) AS BIGINT) AS score,
    {survey_channel} AS survey_channel,
    CASE
        WHEN CAST(score AS DOUBLE) >= {promoter_min} THEN 'promoter'
        WHEN CAST(score AS DOUBLE) >= {passive_min} THEN 'passive'
        ELSE 'detractor'
    END AS nps_group,
    CASE
        WHEN ROW_NUMBER() OVER (
            PARTITION BY CAST(customer_id AS STRING)
            ORDER BY timestamp DESC, CAST(score AS DOUBLE) DESC
        ) = 1 THEN 1
        ELSE 0
    END AS latest
FROM cx_surveys
