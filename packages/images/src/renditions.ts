import { Listener, type ListenerLog, type Queryable, queryOne, sql } from '@imgkit/db';

/**
 * NOTIFY channel whose payload is an image id: its renderings changed (purged) or it is gone
 * (deleted). Every api process LISTENs and drops what its disk cache holds for the image.
 */
export const RENDITIONS_CHANNEL = 'imgkit_renditions';

// One statement: the version is bumped and the notification queued in the same transaction,
// so a process hears of it exactly when the new version is visible.
const purgeSql = sql(
  'images.purge_renditions',
  `WITH bumped AS (
     UPDATE images SET rendition_version = rendition_version + 1, updated_at = now()
     WHERE id = $1 AND account_id = $2
     RETURNING id, rendition_version, updated_at)
   SELECT rendition_version, updated_at, pg_notify('${RENDITIONS_CHANNEL}', id) FROM bumped`,
);

/** Bumps the image's rendition version and tells every api process; undefined if no such image. */
export async function purgeRenditions(
  db: Queryable,
  id: string,
  accountId: string,
): Promise<{ rendition_version: number; purged_at: Date } | undefined> {
  const row = await queryOne<{ rendition_version: number; updated_at: Date }>(db, purgeSql, [id, accountId]);
  return row && { rendition_version: row.rendition_version, purged_at: row.updated_at };
}

export interface RenditionHandlers {
  /** An image's renderings changed or it was deleted. */
  changed: (imageId: string) => void;
  /** (Re)connected: notifications may have been missed, so forget everything remembered. */
  resync: () => void;
}

/** LISTENs for rendition changes on a dedicated connection (reconnecting, then resync). */
export function listenForRenditionChanges(
  connectionString: string,
  log: ListenerLog,
  handlers: RenditionHandlers,
): Listener {
  return new Listener({
    connectionString,
    channel: RENDITIONS_CHANNEL,
    applicationName: 'imgkit-api-renditions',
    log,
    onMessage: (id) => handlers.changed(id),
    onConnected: () => handlers.resync(),
  });
}
