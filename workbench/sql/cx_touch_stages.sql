-- cx_touch_stages: every touch with the index of its journey stage.
--
-- A touch's stage is its own `stage` value when it has one, else its channel's stage from the
-- stage map ({stage_expr} is generated: with or without the touch's own column). Stages are
-- indexed 0..S-1 in funnel order (awareness, consideration, conversion, ...).
--
-- Inputs: cx_touch_input(user_id, timestamp, channel[, stage]) with timestamps in days since
-- 1970-01-01, cx_channel_stage(channel, stage) ('' when unmapped), cx_stage_order(stage,
-- stage_index). One row per touch.
SELECT
    CAST(t.user_id AS STRING) AS user_id,
    CAST(t.timestamp AS DOUBLE) AS timestamp,
    CAST(t.channel AS STRING) AS channel,
    CAST(o.stage_index AS BIGINT) AS stage_index
FROM cx_touch_input AS t
LEFT JOIN cx_channel_stage AS m ON m.channel = CAST(t.channel AS STRING)
JOIN cx_stage_order AS o ON o.stage = {stage_expr}
