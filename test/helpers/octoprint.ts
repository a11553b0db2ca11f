/**
 * The OctoPrint-compatible API as a client sees it: the real printer service with virtual printers, the
 * web over HTTPS, API keys made by the local admin, and requests from 127.0.0.2 (another machine) to
 * /octoprint/<printer-id>/… with `X-Api-Key`, as PrusaSlicer, Cura and pyoctoprintapi send them.
 */
import { startPrinterStack, type PrinterStack } from './printer-stack.ts';
import { request, type Reply } from './web.ts';

export interface OctoStack {
  stack: PrinterStack;
  /** Keys by role: "api" (printers, files, jobs), "viewer" (read only). */
  keys: { api: string; viewer: string };
  /** One request under /octoprint/<printer>/ (`path` starts with "api/"). */
  octo(printer: string, path: string, o?: { method?: string; key?: string | null; body?: unknown; raw?: Buffer; headers?: Record<string, string> }): Promise<Reply>;
  close(): Promise<void>;
}

export async function startOctoStack(tag: string, printers: string[], files: Record<string, string> = {}): Promise<OctoStack> {
  const stack = await startPrinterStack({
    tag, web: true, files, baudrates: [250_000],
    printers: Object.fromEntries(printers.map((id) => [id, { baud: 250_000, latencyMs: 2, record: true }])),
  });
  try {
    for (const id of printers) await stack.untilState(id, 'idle');
    const key = async (role: string) => {
      const r = await stack.call('POST', '/api/apikeys', { name: `octoprint-${role}`, role });
      if (r.status !== 201) throw new Error(`key ${role}: ${r.status} ${r.text}`);
      return (r.json as { key: string }).key;
    };
    const keys = { api: await key('api'), viewer: await key('viewer') };
    const web = stack.web!;
    return {
      stack, keys,
      octo(printer, path, o = {}) {
        const headers: Record<string, string> = { ...o.headers };
        const key = o.key === undefined ? keys.api : o.key;
        if (key !== null) headers['X-Api-Key'] = key;
        return request(web, {
          method: o.method ?? (o.body !== undefined || o.raw ? 'POST' : 'GET'),
          path: `/octoprint/${encodeURIComponent(printer)}/${path}`, headers, timeoutMs: 60_000,
          ...(o.raw ? { raw: o.raw } : o.body !== undefined ? { body: o.body } : {}),
        });
      },
      close: () => stack.close(),
    };
  } catch (e) { await stack.close(); throw e; }
}

/**
 * A multipart/form-data body with text fields and one file part, in the order given — clients differ
 * in order (PrusaSlicer: print, path, file; Cura: path, file, select, print).
 */
export function form(parts: Array<[string, string] | ['file', string, string | Buffer]>): { raw: Buffer; headers: Record<string, string> } {
  const boundary = `----octoprint-test-${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if (part.length === 3) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${part[1]}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
      chunks.push(Buffer.from(part[2]), Buffer.from('\r\n'));
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part[0]}"\r\n\r\n${part[1]}\r\n`));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { raw: Buffer.concat(chunks), headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` } };
}

export type { Reply };
