-- Action buttons know the chat they were sent to: a press of one from any other chat (callback
-- data forged with another chat's button id) is stale.
ALTER TABLE action_buttons ADD COLUMN chat BIGINT;
-- Buttons kept before: their chat is the chat of the message whose keyboard names them
-- (`"data":"x:<id>"`). A button whose message retention already removed keeps no chat, and a
-- press of it is stale.
UPDATE action_buttons AS a SET chat = found.chat
FROM (
    SELECT o.bot AS bot, o.chat AS chat, substr(b.button ->> 'data', 3)::BIGINT AS id
    FROM outbox AS o
    CROSS JOIN LATERAL jsonb_array_elements(o.keyboard::jsonb -> 'Links') AS r(buttons)
    CROSS JOIN LATERAL jsonb_array_elements(r.buttons) AS b(button)
    WHERE o.keyboard LIKE '%"data":"x:%'
      AND b.button ->> 'data' ~ '^x:[0-9]{1,18}$'
) AS found
WHERE found.bot = a.bot AND found.id = a.id;
