/**
 * Every error that crosses a boundary (HTTP, IPC, CLI) is an AppError: a stable machine code,
 * the HTTP status it maps to, and a message safe to show a user (never a secret).
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: string, status: number, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    if (details) this.details = details;
  }

  toJSON(): { error: { code: string; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, 400, message, details);
export const unauthorized = (message = 'Wrong username or password') => new AppError('unauthorized', 401, message);
export const forbidden = (code: string, message: string) => new AppError(code, 403, message);
export const notFound = (what: string) => new AppError('not_found', 404, `${what} not found`);
export const conflict = (code: string, message: string) => new AppError(code, 409, message);
export const unavailable = (code: string, message: string) => new AppError(code, 503, message);

/** Normalises anything thrown into an AppError; unknown errors become a 500 without leaking internals. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('internal', 500, 'Internal error');
}

/** Plain-object form used on IPC wires, where class identity is lost. */
export interface WireError { code: string; status: number; message: string; details?: Record<string, unknown> }
export const toWire = (e: AppError): WireError => ({ code: e.code, status: e.status, message: e.message, ...(e.details ? { details: e.details } : {}) });
export const fromWire = (w: WireError): AppError => new AppError(w.code, w.status, w.message, w.details);
