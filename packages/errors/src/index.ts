/**
 * The errors that lifecycles in packages throw to say "the request cannot be done
 * as asked". They know nothing of HTTP; the api maps each to its problem document
 * (InputError → 400 validation_failed, ConflictError → 409, NotFoundError → 404,
 * TooLargeError → 413).
 */
export class InputError extends Error {
  override name = 'InputError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export class ConflictError extends Error {
  override name = 'ConflictError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

export class TooLargeError extends Error {
  override name = 'TooLargeError';
  readonly limit: number;

  constructor(limit: number) {
    super(`The body exceeds the limit of ${limit} bytes.`);
    this.limit = limit;
  }
}
