/** One app-wide confirmation dialog (ConfirmDialog.svelte renders it) for destructive actions. */
export interface ConfirmRequest { title: string; body: string; action: string; danger?: boolean; resolve: (ok: boolean) => void }

export const confirmState = $state({ current: null as ConfirmRequest | null });

export function confirmAction(title: string, body: string, action: string, danger = false): Promise<boolean> {
  confirmState.current?.resolve(false);
  return new Promise((resolve) => { confirmState.current = { title, body, action, danger, resolve }; });
}
