-- journey_channels: the channels, indexed 0..C-1 in sorted order of name.
--
-- Input: touchpoints(channel). One row per channel.
SELECT channel, CAST(DENSE_RANK() OVER (ORDER BY channel) - 1 AS BIGINT) AS channel_index
FROM (SELECT DISTINCT channel FROM touchpoints) AS c
