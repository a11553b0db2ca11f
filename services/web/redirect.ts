/**
 * The plain-HTTP port only redirects to HTTPS. The target host comes from the Host header,
 * so it is checked against the same allow-list first — otherwise this would be an open redirect.
 */
import type http from 'node:http';
import type { HostCheck } from './hosts.ts';
import { parseHost } from './hosts.ts';

export function redirectToHttps(deps: { hosts: HostCheck; httpsPort: number }): http.RequestListener {
  return (req, res) => {
    const host = req.headers.host;
    const name = host ? parseHost(host) : undefined;
    if (!name || !deps.hosts.allowed(host)) {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'host_not_allowed', message: 'Unknown host name; use the device name or address' } }));
      return;
    }
    const hostPart = name.includes(':') ? `[${name}]` : name;
    const port = deps.httpsPort === 443 ? '' : `:${deps.httpsPort}`;
    const path = (req.url ?? '/').startsWith('/') ? req.url ?? '/' : '/';
    res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 301 : 308, { Location: `https://${hostPart}${port}${path}` });
    res.end();
  };
}
