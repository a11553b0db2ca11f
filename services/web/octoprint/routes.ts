/**
 * The OctoPrint-compatible route table: server, settings, connection, printer and job. Paths are
 * relative to /octoprint; each printer is one OctoPrint instance at /octoprint/<printer-id>/. Shapes
 * follow OctoPrint 1.11's REST API (docs.octoprint.org "REST API"); handlers stay thin over the same
 * printer.sock calls as PrintBox's own routes.
 */
import crypto from 'node:crypto';
import { AppError, badRequest } from '../../shared/errors.ts';
import type { PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { appKeyRoutes } from './appkeys.ts';
import { octoprintUser } from './auth.ts';
import { fileRoutes } from './file-routes.ts';
import { isTrue } from './files.ts';
import { jobCommand, jobState } from './job.ts';
import { printerOperationRoutes } from './printer-routes.ts';
import { issuePushSession } from './push-auth.ts';
import { isOperational, notOperational, on, printerState, temperatureHistory, temperatures, type Ctx } from './state.ts';

/** The OctoPrint release whose API this follows; clients compare it, PrusaSlicer wants "OctoPrint" first in `text`. */
export const OCTOPRINT_VERSION = '1.11.0';
const P = '/:printer/api';

/**
 * OctoPrint's printer profile (octoprint/printer/profile.py) made from PrintBox's profile of the printer
 * (docs/printers.md "Printer profile"), named after the printer.
 */
async function profile(ctx: Ctx, p: PrinterInfo) {
  const { profile: pb } = await ctx.deps.printer.call('printers.profile', { id: p.id });
  return {
    id: '_default', name: p.name || p.id, model: p.name || 'Generic RepRap Printer', color: 'default', current: true, default: true,
    volume: { ...pb.volume, formFactor: 'rectangular', origin: 'lowerleft', custom_box: false },
    heatedBed: pb.heatedBed, heatedChamber: pb.heatedChamber,
    extruder: { count: pb.extruders, offsets: Array.from({ length: pb.extruders }, () => [0, 0]), nozzleDiameter: 0.4, sharedNozzle: false, defaultExtrusionLength: 5 },
    axes: pb.axes,
  };
}

/**
 * A stable UUID per device and printer: Home Assistant's config flow takes plugins.discovery.upnpUuid as
 * the integration's unique id (homeassistant/components/octoprint/config_flow.py _finish_config).
 */
function printerUuid(deps: WebDeps, id: string): string {
  const h = crypto.createHash('sha256').update(`${deps.tls.fingerprint256}\n${id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The first camera (camera/), as OctoPrint's single webcam: absolute URLs on the address the client used, since
 * apps fetch them directly (with their key). Without a camera webcamEnabled is false and clients show none
 * (Home Assistant's camera platform checks it). OctoPrint has rotate90 (counter-clockwise) only.
 */
function webcam(ctx: Ctx) {
  const id = ctx.deps.cameras?.ids()[0];
  const s = id ? ctx.deps.cameras!.settings.get(id) : undefined;
  const base = `https://${ctx.req.headers.host ?? 'localhost'}/camera/${id}`;
  return {
    webcamEnabled: !!id, timelapseEnabled: false, streamUrl: id ? `${base}/stream` : '', snapshotUrl: id ? `${base}/snapshot` : '',
    snapshotSslValidation: true, bitrate: '10000k', flipH: s?.flipH ?? false, flipV: s?.flipV ?? false, rotate90: s?.rotate === 270,
    streamRatio: s && isFourThree(s.resolution) ? '4:3' : '16:9',
    streamTimeout: 5, ffmpegPath: '',
  };
}

const isFourThree = (res: string) => { const [w, h] = res.split('x').map(Number); return w! * 3 === h! * 4; };

/** The settings these clients read (Cura: feature, webcam, gcodeAnalysis, plugins; pyoctoprintapi: webcam, plugins.discovery). */
function settings(ctx: Ctx, p: PrinterInfo) {
  return {
    api: { allowCrossOrigin: false },
    appearance: { name: p.name || p.id, color: 'default' },
    feature: { sdSupport: false, temperatureGraph: true, modelSizeDetection: false },
    gcodeAnalysis: { runAt: 'always' },
    webcam: webcam(ctx),
    plugins: {
      discovery: {
        upnpUuid: printerUuid(ctx.deps, p.id), publicHost: null, publicPort: null, pathPrefix: null, httpUsername: null, httpPassword: null,
        zeroConf: [], model: { name: 'PrintBox', description: null, number: null, url: null, serial: null, vendor: null, vendorUrl: null },
      },
    },
  };
}

function connection(p: PrinterInfo) {
  const connected = p.state !== 'disconnected';
  return {
    current: { state: connected ? printerState(p).text : 'Closed', port: connected ? p.port : null, baudrate: connected ? p.baudrate ?? null : null, printerProfile: '_default' },
    options: {
      ports: [p.port], baudrates: p.baudrate ? [p.baudrate] : [], printerProfiles: [{ id: '_default', name: p.name || p.id }],
      portPreference: p.port, baudratePreference: p.baudrate ?? null, printerProfilePreference: '_default', autoconnect: true,
    },
  };
}

/**
 * POST /api/connection. PrintBox's printer service keeps every plugged-in printer connected, so
 * "connect" only acts on a printer in error (a board reset, as POST /api/printers/:id/reconnect) and
 * "disconnect" is refused (400): there is no disconnected-but-plugged-in state to go to.
 */
async function connectionCommand(ctx: Ctx, p: PrinterInfo): Promise<void> {
  const command = (ctx.req.body as { command?: unknown } | undefined)?.command;
  if (command === 'connect') {
    if (p.state === 'disconnected') throw new AppError('conflict', 409, 'The printer is unplugged; plug it in and PrintBox connects it');
    if (p.state === 'error') await ctx.deps.printer.call('printers.reconnect', { id: p.id }, 60_000);
    return;
  }
  if (command === 'disconnect' || command === 'fake_ack') throw badRequest('unsupported_command', `PrintBox keeps its printers connected; "${command}" is not supported`);
  throw badRequest('bad_command', 'command is invalid');
}

/** GET /api/printer: 409 unless operational, as OctoPrint's printerState(); `exclude`, `history` and `limit` as documented. */
function printerStatus(ctx: Ctx, p: PrinterInfo) {
  if (!isOperational(p)) throw notOperational();
  const q = ctx.req.query;
  const excludes = typeof q.exclude === 'string' ? q.exclude.split(',').map((x) => x.trim()) : [];
  const out: Record<string, unknown> = {};
  if (!excludes.includes('temperature')) {
    const temps: Record<string, unknown> = temperatures(p.temperatures);
    if (isTrue(q.history)) {
      const limit = typeof q.limit === 'string' && /^\d+$/.test(q.limit) ? Number(q.limit) : 300;
      temps.history = temperatureHistory(p.temperatures, limit);
    }
    out.temperature = temps;
  }
  // "sd" only appears when OctoPrint's sdSupport is on; it is off here (GET /api/settings).
  if (!excludes.includes('state')) out.state = printerState(p);
  return out;
}

/** POST /api/printer/command {"command"} | {"commands"}: each line to the terminal queue. */
async function printerCommand(ctx: Ctx, p: PrinterInfo): Promise<void> {
  if (!isOperational(p)) throw notOperational();
  const body = (ctx.req.body ?? {}) as { command?: unknown; commands?: unknown; script?: unknown };
  if (body.command !== undefined && body.commands !== undefined) throw badRequest('bad_command', "'command' and 'commands' are mutually exclusive");
  if (body.script !== undefined) throw badRequest('unsupported_command', 'PrintBox runs no OctoPrint GCODE scripts; send the commands instead');
  const lines = body.commands !== undefined ? body.commands : body.command !== undefined ? [body.command] : undefined;
  if (lines === undefined) throw badRequest('bad_command', "Need one of 'command', 'commands' or 'script'");
  if (!Array.isArray(lines) || lines.length > 100 || !lines.every((l) => typeof l === 'string' && l.trim())) throw badRequest('bad_command', 'commands is invalid');
  for (const gcode of lines as string[]) await ctx.deps.printer.call('printers.command', { id: p.id, gcode });
}

const serverRoutes: Route<WebDeps>[] = [
  { method: 'get', path: `${P}/version`, access: 'authenticated', handler: on(() => ({ api: '0.1', server: OCTOPRINT_VERSION, text: `OctoPrint ${OCTOPRINT_VERSION}` })) },
  { method: 'get', path: `${P}/server`, access: 'authenticated', handler: on(() => ({ version: OCTOPRINT_VERSION, safemode: null })) },
  { method: 'get', path: `${P}/currentuser`, access: 'public', handler: on((ctx) => octoprintUser(ctx.principal)) },
  {
    // Cura asks who its key belongs to with a passive login; passwords are never taken here.
    method: 'post', path: `${P}/login`, access: 'authenticated',
    handler: on((ctx) => {
      if ((ctx.req.body as { passive?: unknown } | undefined)?.passive !== true) throw badRequest('unsupported_login', 'PrintBox signs in OctoPrint clients with an API key (X-Api-Key) only; send {"passive": true}');
      // session: the key for the push API's {"auth": "<name>:<session>"} (push-auth.ts), as OctoPrint's passive login returns it
      return { ...octoprintUser(ctx.principal), active: true, admin: ctx.principal?.role === 'admin', session: issuePushSession(ctx.req, ctx.principal!, ctx.deps) };
    }),
  },
  { method: 'get', path: `${P}/settings`, access: 'printers.read', handler: on(settings) },
  { method: 'get', path: `${P}/printerprofiles`, access: 'printers.read', handler: on(async (ctx, p) => ({ profiles: { _default: await profile(ctx, p) } })) },
];

const printerRoutes: Route<WebDeps>[] = [
  { method: 'get', path: `${P}/connection`, access: 'printers.read', handler: on((_ctx, p) => connection(p)) },
  { method: 'post', path: `${P}/connection`, access: 'printers.control', handler: on(connectionCommand) },
  { method: 'get', path: `${P}/printer`, access: 'printers.read', handler: on(printerStatus) },
  { method: 'post', path: `${P}/printer/command`, access: 'printers.control', handler: on(printerCommand) },
  { method: 'get', path: `${P}/job`, access: 'jobs.read', handler: on(jobState) },
  { method: 'post', path: `${P}/job`, access: 'jobs.control', handler: on(jobCommand) },
];

export const octoprintRoutes: Route<WebDeps>[] = [...serverRoutes, ...printerRoutes, ...printerOperationRoutes, ...fileRoutes, ...appKeyRoutes];
