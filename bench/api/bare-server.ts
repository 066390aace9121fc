// The baseline for bench/api: a bare Express handler answering a JSON body of the same size.
import express from 'express';

const size = Number(process.env.BARE_BODY_BYTES ?? 1200);
const body = JSON.stringify({ id: 'img_x', padding: 'x'.repeat(Math.max(0, size - 30)) });
const app = express();
app.use(express.json());
app.post('/v1/images', (_req, res) => {
  res.status(202).type('application/json').send(body);
});
const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as { port: number }).port });
});
process.on('disconnect', () => process.exit(0));
