-- Action buttons know the chat they were sent to: a press of one from any other chat (callback
-- data forged with another chat's button id) is stale.
ALTER TABLE action_buttons ADD COLUMN chat BIGINT;
-- Buttons kept before: their chat is the chat of the message whose keyboard names them
-- (`"data":"x:<id>"`). A button whose message retention already removed keeps no chat, and a
-- press of it is stale.
UPDATE action_buttons SET chat = found.chat
FROM (
    SELECT o.bot AS bot, o.chat AS chat, CAST(substr(json_extract(b.value, '$.data'), 3) AS INTEGER) AS id
    FROM outbox AS o, json_each(o.keyboard, '$.Links') AS r, json_each(r.value) AS b
    WHERE o.keyboard LIKE '%"data":"x:%'
      AND json_extract(b.value, '$.data') GLOB 'x:[0-9]*'
) AS found
WHERE found.bot = action_buttons.bot AND found.id = action_buttons.id;
