/**
 * Dependency rules checked by `npm test` (scripts/test.sh): imports point one way.
 * services/shared is the bottom layer; each service may use shared but no other service; the UI may use
 * only the browser-safe parts of shared. Type-only imports count too: a type cycle is still a cycle a
 * reader has to untangle.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'A module graph with cycles has no order to read or test it in.', from: {}, to: { circular: true } },
    { name: 'shared-imports-no-service', severity: 'error', comment: 'services/shared is the bottom layer: it must not depend on a service above it.', from: { path: '^services/shared/' }, to: { path: '^services/(?!shared/)' } },
    { name: 'services-do-not-import-each-other', severity: 'error', comment: 'Services talk over their IPC sockets (services/shared/ipc.ts), never through each other\'s modules.', from: { path: '^services/([^/]+)/' }, to: { path: '^services/(?!$1/|shared/)[^/]+/' } },
    { name: 'ui-imports-no-service', severity: 'error', comment: 'The browser bundle may use services/shared (browser-safe modules) only.', from: { path: '^web/' }, to: { path: '^services/(?!shared/)' } },
    { name: 'code-imports-no-tests', severity: 'error', comment: 'Production code never depends on tests.', from: { path: '^(services|web)/' }, to: { path: '^test/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
  },
};
