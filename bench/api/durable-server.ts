/**
 * The durable floor for bench/api: a plain Express handler that does the least a durable accept
 * must do — parse the JSON, write one same-shaped row into `images` (same table, same indexes)
 * on the same PostgreSQL with a pool of the same size, and answer 202 with the row. No auth,
 * no rate limit, no task, no idempotency.
 */
import { createPool } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import express from 'express';

const pool = createPool({
  connectionString: process.env.DATABASE_URL!,
  max: Number(process.env.DATABASE_POOL_MAX ?? 10),
});
const accountId = process.env.ACCOUNT_ID!;
const insert = {
  name: 'durable.insert',
  text: `INSERT INTO images (id, account_id, source, url, passthrough, requested_variants, extract_metadata)
         VALUES ($1, $2, 'url', $3, $4, '{}', true) RETURNING *`,
};
const app = express();
app.use(express.json());
app.post('/v1/images', async (req, res) => {
  const { rows } = await pool.query({
    ...insert,
    values: [newId('image'), accountId, req.body.url, JSON.stringify(req.body.passthrough ?? null)],
  });
  res.status(202).json(rows[0]);
});
const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as { port: number }).port });
});
process.on('disconnect', () => process.exit(0));
