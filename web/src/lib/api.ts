/**
 * The one place the UI talks HTTP. Errors follow the contract's {"error": {"code", "message"}} shape;
 * 429 carries Retry-After so the login screen can show the wait.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds from Retry-After, when the server sent one. */
  readonly retryAfter?: number;
  /** The error's details, e.g. `errors`: every problem of a rejected profile or macro. */
  details?: Record<string, unknown>;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

let onUnauthorized: () => void = () => {};
/** App registers this so any 401 (expired session) returns to the sign-in screen. */
export const setUnauthorizedHandler = (fn: () => void) => { onUnauthorized = fn; };

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(raw: string | null): number | undefined {
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export async function errorFrom(status: number, text: string, retryAfter: string | null): Promise<ApiError> {
  let code = `http_${status}`;
  let message = text && text.length < 300 && !text.trimStart().startsWith('<') ? text : `Request failed (${status})`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
    details = body.error?.details;
  } catch { /* not JSON: keep the generic message */ }
  const e = new ApiError(status, code, message, parseRetryAfter(retryAfter));
  if (details) e.details = details;
  return e;
}

export interface RequestOptions {
  /** Don't treat 401 as "session expired" (the login and session probes expect it). */
  quiet401?: boolean;
}

export async function api<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the printer box. Check the network connection.');
  }
  const text = await res.text();
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) onUnauthorized();
    throw await errorFrom(res.status, text, res.headers.get('Retry-After'));
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, opts?: RequestOptions) => api<T>('GET', path, undefined, opts);
export const post = <T>(path: string, body: unknown = {}, opts?: RequestOptions) => api<T>('POST', path, body, opts);
export const del = <T>(path: string) => api<T>('DELETE', path);

/** For screens whose endpoint lands later: undefined on 404 instead of an error. */
export async function getOptional<T>(path: string): Promise<T | undefined> {
  try {
    return await get<T>(path);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 501)) return undefined;
    throw e;
  }
}

export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
