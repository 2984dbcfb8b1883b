-- touch_events: the touchpoints read once, as the compact columns the later steps use.
--
-- The journeys and weekly_touches steps both need every touch's user, time and channel index;
-- reading the staged file twice (decoding it, converting its timestamps and joining the channel
-- names each time) cost more than keeping these three columns (2M journeys / 15M touchpoints:
-- about 1 CPU s less in total). {user_key} is user_id, or user_id cast to STRING when the two
-- inputs store it with different types (workbench.journeys.user_key).
--
-- Inputs: touchpoints(user_id, timestamp [days since epoch], channel), journey_channels.
-- One row per touchpoint: user_id, event_time (days since epoch), channel_index.
SELECT
    {user_key} AS user_id,
    t.timestamp AS event_time,
    CAST(ch.channel_index AS INT) AS channel_index
FROM touchpoints AS t
JOIN journey_channels AS ch ON t.channel = ch.channel
