/**
 * The shape of one route-table entry (STYLE.md: path → permission → thin handler → shared error handler).
 * Route files per area (routes/auth.ts, routes/cloud.ts, routes/printers.ts …) export Route[] and
 * routes/index.ts concatenates them into the one table the app mounts and the permission test walks.
 */
import type { Request, Response } from 'express';
import type { Permission } from '../shared/permissions.ts';
import type { Principal } from './permissions.ts';

export type Access = Permission | 'public' | 'authenticated';

export interface RouteContext<D> {
  req: Request;
  res: Response;
  /** null only on 'public' routes when nobody is signed in. */
  principal: Principal | null;
  deps: D;
}

export interface Route<D> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  access: Access;
  /** What the request body may be; state-changing routes are JSON-only unless they say otherwise (CSRF). */
  body?: 'json' | 'multipart' | 'none';
  /** Bytes; defaults to 16 KB for JSON. */
  bodyLimit?: number;
  /** Success status when the handler returns a value (default 200; undefined result → 204). */
  status?: number;
  /** Thin: validate input, call a service, return JSON-able data. Throw AppError for failures. */
  handler: (ctx: RouteContext<D>) => Promise<unknown> | unknown;
  /** Set when the handler writes the response itself (streams, SSE, file downloads). */
  raw?: boolean;
}
