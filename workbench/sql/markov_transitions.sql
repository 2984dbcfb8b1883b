-- markov_transitions: first-order transition counts over all journeys, by split.
--
-- Each journey is the path (start) -> c_1 -> ... -> c_n -> (conversion) or (null), with its
-- touches in time order (ties broken by channel index). Repeated channels are kept as
-- self-transitions; they do not change absorption probabilities.
--
-- Input: journey_touches (the journeys step).
-- One row per (holdout, from_state, to_state) with the number of transitions.
WITH steps AS (
    SELECT
        holdout,
        CASE WHEN touch_order = 1 THEN '{start_state}' END AS start_state,
        channel AS from_state,
        COALESCE(
            LEAD(channel) OVER (PARTITION BY user_id, journey ORDER BY touch_order),
            CASE WHEN converted = 1 THEN '{conversion_state}' ELSE '{null_state}' END
        ) AS to_state
    FROM journey_touches
),
transitions AS (
    SELECT holdout, start_state AS from_state, from_state AS to_state
    FROM steps
    WHERE start_state IS NOT NULL
    UNION ALL
    SELECT holdout, from_state, to_state
    FROM steps
)
SELECT holdout, from_state, to_state, CAST(COUNT(*) AS BIGINT) AS n_transitions
FROM transitions
GROUP BY holdout, from_state, to_state
