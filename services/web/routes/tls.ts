import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';

/**
 * The device certificate's fingerprint and the certificate itself. Public on purpose: every TLS
 * client already receives the certificate in the handshake, and a user needs both before signing in
 * to decide whether to trust it.
 */
export const tlsRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/settings/tls', access: 'public',
    handler: ({ deps }) => ({ fingerprint256: deps.tls.fingerprint256, valid_to: deps.tls.validTo, names: deps.tls.sans }),
  },
  {
    method: 'get', path: '/settings/tls/cert.pem', access: 'public', raw: true,
    handler: ({ res, deps }) => {
      res.setHeader('Content-Type', 'application/x-pem-file');
      res.setHeader('Content-Disposition', 'attachment; filename="printbox-cert.pem"');
      res.send(deps.tls.cert);
    },
  },
];
