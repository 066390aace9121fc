-- Up Migration

-- Whether a message was addressed to an endpoint (as opposed to a resource's own
-- webhook_url). endpoint_id alone cannot tell once the endpoint is deleted (ON DELETE SET
-- NULL keeps the delivery log), and a message for a deleted endpoint must never be sent
-- again — in particular not signed with the account's secret.
ALTER TABLE webhook_messages ADD COLUMN to_endpoint boolean NOT NULL DEFAULT false;
UPDATE webhook_messages SET to_endpoint = true WHERE endpoint_id IS NOT NULL;

-- Housekeeping deletes finished messages (and their attempts) after a retention.
CREATE INDEX webhook_messages_finished ON webhook_messages (updated_at) WHERE status <> 'pending';

-- Down Migration
DROP INDEX webhook_messages_finished;
ALTER TABLE webhook_messages DROP COLUMN to_endpoint;
