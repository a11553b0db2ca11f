/**
 * The OctoPrint-compatible API (docs/contract.md "OctoPrint-compatible API"): its route table and how
 * app.ts mounts it under /octoprint — X-Api-Key credentials, 403 without them, {"error": "…"} errors.
 */
export { octoprintErrorBody, octoprintMount } from './auth.ts';
export { octoprintRoutes } from './routes.ts';
export { installPush } from './push.ts';
export { octoprintRootMount, octoprintRootRoutes, rootDispatch } from './root.ts';
