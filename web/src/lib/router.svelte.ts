/** Hash routing (#/printers/virtual-1): works behind any static server without a fallback rule. */
export const route = $state({ path: currentPath() });

function currentPath(): string {
  const p = location.hash.replace(/^#/, '');
  return p.startsWith('/') ? p : '/printers';
}

window.addEventListener('hashchange', () => { route.path = currentPath(); });

export const go = (path: string) => { location.hash = path; };
