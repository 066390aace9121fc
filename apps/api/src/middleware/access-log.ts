import type { Logger } from '@imgkit/log';
import type { NextFunction, Request, Response } from 'express';
import { requestIdFor } from './request-id.ts';

/**
 * Gives each request its id (X-Request-Id) and logs one line when the response is finished:
 * `request completed` at info, or `request errored` at error for a 5xx or a broken response —
 * the fields pino-http wrote (req.id/method/url, res.statusCode, responseTime in ms). Written
 * here because pino-http builds a child logger for every request whether or not the line is
 * ever written, which was most of the api's own overhead per create (docs/decisions.md).
 */
export function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = requestIdFor(req, res);
    (req as Request & { id: string }).id = id;
    const started = performance.now();
    const done = (err?: Error) => {
      res.off('finish', onFinish);
      res.off('close', onClose);
      const failed = err !== undefined || res.statusCode >= 500;
      if (!logger.isLevelEnabled(failed ? 'error' : 'info')) return;
      const line = {
        req: { id, method: req.method, url: req.originalUrl },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
        ...(err ? { err } : {}),
      };
      if (failed) logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    };
    const onFinish = () => done();
    const onClose = () => {
      if (!res.writableFinished) done(new Error('the connection closed before the response was sent'));
    };
    res.on('finish', onFinish);
    res.on('close', onClose);
    next();
  };
}
