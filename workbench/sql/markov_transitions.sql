-- markov_transitions: first-order transition counts over all journeys, by split.
--
-- Each journey is the path (start) -> c_1 -> ... -> c_n -> (conversion) or (null), with its
-- touches in time order (ties broken by channel index). Repeated channels are kept as
-- self-transitions; they do not change absorption probabilities. The journeys step already
-- holds each touch's next state, so this is one GROUP BY over compact integer columns; the
-- split comes from the journey's row in journey_codes. Per (holdout, channel, next state):
-- the transitions out of the channel, and how many of those touches opened their journey
-- (the transitions (start) -> channel). State names are attached by the caller.
--
-- Inputs: journey_touches, journey_codes.
-- One row per (holdout, channel_index, next_state).
SELECT
    j.holdout,
    t.channel_index,
    t.next_state,
    CAST(COUNT(*) AS BIGINT) AS n_transitions,
    CAST(SUM(t.is_first) AS BIGINT) AS n_starts
FROM journey_touches AS t
JOIN journey_codes AS j ON t.user_id = j.user_id AND t.journey = j.journey
GROUP BY j.holdout, t.channel_index, t.next_state
