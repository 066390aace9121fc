import type { Logger } from '@imgkit/log';
import type { NextFunction, Request, Response } from 'express';
import { requestIdFor } from './request-id.ts';

/**
 * Gives each request its id (X-Request-Id) and logs one line when the response is finished:
 * `request completed` at info, `request errored` at error for a 5xx, or `request aborted` at
 * warn when the client went away before the response was sent —
 * the fields pino-http wrote (req.id/method/url, res.statusCode, responseTime in ms). Written
 * here because pino-http builds a child logger for every request whether or not the line is
 * ever written, which was most of the api's own overhead per create (docs/decisions.md).
 */
export function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = requestIdFor(req, res);
    (req as Request & { id: string }).id = id;
    const started = performance.now();
    const done = (aborted: boolean) => {
      res.off('finish', onFinish);
      res.off('close', onClose);
      const level = aborted ? 'warn' : res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        req: { id, method: req.method, url: req.originalUrl },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
      };
      if (aborted) logger.warn(line, 'request aborted');
      else if (level === 'error') logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    };
    const onFinish = () => done(false);
    const onClose = () => {
      if (!res.writableFinished) done(true);
    };
    res.on('finish', onFinish);
    res.on('close', onClose);
    next();
  };
}
