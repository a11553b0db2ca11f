/**
 * The one route table (STYLE.md). Each area exports Route<WebDeps>[] from its own file and adds ONE
 * line here; paths are relative to /api. The permission test walks this list.
 */
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { authRoutes } from './auth.ts';
import { healthRoutes } from './health.ts';
import { tlsRoutes } from './tls.ts';
import { systemRoutes } from './system.ts';
import { adminRoutes } from './admin.ts';
import { updateRoutes } from './updates.ts';
import { securityRoutes } from './security.ts';
import { apiKeyRoutes } from './apikeys.ts';
import { sessionRoutes } from './sessions.ts';
import { auditRoutes } from './audit.ts';
import { userRoutes } from './users.ts';
import { cloudRoutes } from './cloud.ts';
import { printerRoutes } from './printers.ts';
import { controlRoutes } from './control.ts';
import { fileRoutes } from './files.ts';
import { eventRoutes } from './events.ts';
import { octoprintAppKeyRoutes } from './octoprint-appkeys.ts';
import { octoprintSettingRoutes } from './octoprint-settings.ts';
import { cameraApiRoutes } from '../camera/routes.ts';
import { timelapseRoutes } from '../timelapse/routes.ts';

export const routes: Route<WebDeps>[] = [
  ...healthRoutes,
  ...authRoutes,
  ...tlsRoutes,
  ...systemRoutes,
  ...adminRoutes,
  ...updateRoutes,
  ...securityRoutes,
  ...apiKeyRoutes,
  ...sessionRoutes,
  ...auditRoutes,
  ...userRoutes,
  ...cloudRoutes,
  ...printerRoutes,
  ...controlRoutes,
  ...fileRoutes,
  ...eventRoutes,
  ...octoprintAppKeyRoutes,
  ...octoprintSettingRoutes,
  ...cameraApiRoutes,
  ...timelapseRoutes,
];
