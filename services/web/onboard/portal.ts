/**
 * The setup portal on plain HTTP, answered only for requests that arrived on the hotspot's own address
 * while the hotspot is open (a phone on the setup network has no way to check the device's certificate,
 * and no internet). Everything else it is asked for redirects to /setup, which is how a phone's captive-
 * portal check (Android's /generate_204, Apple's /hotspot-detect.html, Windows' /connecttest.txt) finds
 * it: the image's dnsmasq answers every name with the device. It can only add a Wi-Fi network; each
 * join is audited.
 */
import type http from 'node:http';
import type { AuditSink } from '../deps.ts';
import { AppError } from '../../shared/errors.ts';
import { parseWifiJoin } from '../system/validate.ts';
import { PORTAL_PAGE } from './portal-page.ts';
import { HOTSPOT_ADDRESS } from './hotspot.ts';
import type { OnboardSupervisor } from './supervisor.ts';

export interface PortalDeps {
  onboard: OnboardSupervisor;
  /** `<hostname>.local`: where the user finds the device once it joined their network. */
  deviceName: () => string;
  audit?: AuditSink;
  onError: (e: unknown) => void;
}

const send = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
};

function readJson(req: http.IncomingMessage, limit = 4096): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    // past the limit the rest is read and dropped, so the client gets its 413 rather than a reset connection
    req.on('data', (c: Buffer) => { size += c.length; if (size <= limit) chunks.push(c); });
    req.on('end', () => {
      if (size > limit) { reject(new AppError('body_too_large', 413, 'The request is too large')); return; }
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')); } catch { reject(new AppError('invalid_json', 400, 'The request body is not JSON')); }
    });
    req.on('error', reject);
  });
}

/** Whether this plain-HTTP request is the portal's: it came in on the hotspot's address while the hotspot is open. */
export const isPortalRequest = (req: http.IncomingMessage, onboard: OnboardSupervisor | undefined): boolean =>
  !!onboard && onboard.portalOpen() && req.socket.localAddress?.replace(/^::ffff:/, '') === HOTSPOT_ADDRESS;

export function portalHandler(deps: PortalDeps): http.RequestListener {
  return (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    deps.onboard.touch();
    if (req.method === 'GET' && url === '/setup') {
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store',
        'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'",
      });
      res.end(PORTAL_PAGE);
      return;
    }
    if (req.method === 'GET' && url === '/setup/status') {
      send(res, 200, { ...deps.onboard.status(), device: deps.deviceName() });
      return;
    }
    if (req.method === 'POST' && url === '/setup/join') {
      const ip = req.socket.remoteAddress ?? 'unknown';
      readJson(req).then((body) => {
        const w = parseWifiJoin(body);
        deps.onboard.join(w);
        deps.audit?.record({ actor: 'setup-portal', method: 'anonymous', ip, action: 'POST /setup/join', target: w.ssid, outcome: 'success', details: { ssid: w.ssid, hidden: w.hidden } }).catch(deps.onError);
        send(res, 202, { joining: w.ssid, device: deps.deviceName() });
      }).catch((e: unknown) => {
        const err = e instanceof AppError ? e : new AppError('internal', 500, 'Internal error');
        send(res, err.status, err.toJSON());
      });
      return;
    }
    // the captive-portal checks of phones and laptops, and any other page: to the setup page
    res.writeHead(302, { Location: `http://${HOTSPOT_ADDRESS}/setup`, 'Cache-Control': 'no-store' });
    res.end();
  };
}
