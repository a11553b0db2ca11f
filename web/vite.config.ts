/**
 * Builds the Svelte SPA into web/dist (served by printbox-web as PRINTBOX_STATIC_DIR).
 * Hashed file names under dist/assets let the server mark them immutable while index.html is no-store.
 * The initial-JS budget (≤ 60 KB gzip) is measured here and fails the build when exceeded.
 */
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const BUDGET_BYTES = 60 * 1024;

/** Initial JS = the entry chunk plus every chunk it imports statically (dynamic imports load later). */
function jsBudget(): Plugin {
  return {
    name: 'printbox-js-budget',
    apply: 'build',
    generateBundle(_opts, bundle) {
      const chunks = new Map<string, { code: string; imports: string[] }>();
      let entry: string | undefined;
      for (const [file, out] of Object.entries(bundle)) {
        if (out.type !== 'chunk') continue;
        chunks.set(file, { code: out.code, imports: out.imports });
        if (out.isEntry) entry = file;
      }
      if (!entry) return;
      const seen = new Set<string>();
      const walk = (f: string) => {
        if (seen.has(f)) return;
        seen.add(f);
        for (const i of chunks.get(f)?.imports ?? []) walk(i);
      };
      walk(entry);
      let gz = 0;
      for (const f of seen) gz += gzipSync(chunks.get(f)?.code ?? '').length;
      const kb = (gz / 1024).toFixed(1);
      console.log(`\nprintbox: initial JS ${kb} KB gzip (${seen.size} chunk${seen.size === 1 ? '' : 's'}; budget ${BUDGET_BYTES / 1024} KB)`);
      if (gz > BUDGET_BYTES) this.error(`initial JS ${kb} KB gzip exceeds the ${BUDGET_BYTES / 1024} KB budget`);
    },
  };
}

const root = fileURLToPath(new URL('.', import.meta.url));
// Dev only: `vite --config web/vite.config.ts` proxies the API to a locally running `npm start`.
const devApi = 'https://localhost:8443';

export default defineConfig({
  root,
  base: '/',
  plugins: [svelte(), jsBudget()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    // The API refuses cross-origin writes; the dev server is a different origin than the API it proxies,
    // so the proxy presents requests as the API's own (dev only — the built UI is served by the API itself).
    proxy: {
      '/api': {
        target: devApi, secure: false, changeOrigin: true,
        configure: (proxy) => proxy.on('proxyReq', (req) => req.removeHeader('origin')),
      },
    },
  },
});
