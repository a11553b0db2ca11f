/**
 * One subscription to the printer service's events (deps.printer.subscribe, as routes/events.ts) for
 * every open push socket: it keeps each printer's last PrinterInfo, turns changes into OctoPrint events
 * (push-state.ts) and hands them to the sockets watching that printer. It subscribes with the first
 * watcher and stops with the last.
 */
import type { PrinterEvent, PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import { jobEvents, printerEvents, promptMessage, tempSample, type PushEvent } from './push-state.ts';

export type HubMessage =
  | { kind: 'event'; event: PushEvent }
  /** something in `current` changed: state, job, progress */
  | { kind: 'changed' }
  | { kind: 'temps'; sample: Record<string, unknown> }
  | { kind: 'log'; line: string }
  /** OctoPrint's plugin messages (sockjs.py on_plugin_message): `{"plugin": {"plugin": <id>, "data": …}}` */
  | { kind: 'plugin'; plugin: string; data: unknown };

export interface PushHub {
  /** Delivers `printerId`'s messages to `fn` until the returned function is called. */
  watch(printerId: string, fn: (m: HubMessage) => void): () => void;
  /** The printer as last reported (seeded by the caller with printers.get). */
  info(printerId: string): PrinterInfo | undefined;
  seed(p: PrinterInfo): void;
  close(): void;
}

export function createPushHub(deps: WebDeps): PushHub {
  const watchers = new Map<string, Set<(m: HubMessage) => void>>();
  const infos = new Map<string, PrinterInfo>();
  let stop: (() => void) | undefined;
  const now = deps.now ?? Date.now;

  const emit = (id: string, m: HubMessage) => { for (const fn of [...(watchers.get(id) ?? [])]) fn(m); };
  const emitEvents = (id: string, events: PushEvent[]) => { for (const event of events) emit(id, { kind: 'event', event }); };

  function onEvent(raw: unknown): void {
    const e = raw as PrinterEvent;
    switch (e.event) {
      case 'printer': {
        const before = infos.get(e.data.id);
        infos.set(e.data.id, e.data);
        emitEvents(e.data.id, printerEvents(before, e.data));
        if (e.data.job) emitEvents(e.data.id, jobEvents(before?.job, e.data.job));
        emit(e.data.id, { kind: 'changed' });
        return;
      }
      case 'job': {
        const id = e.data.printerId;
        const p = infos.get(id);
        if (p) infos.set(id, { ...p, job: e.data });
        emitEvents(id, jobEvents(p?.job, e.data));
        emit(id, { kind: 'changed' });
        return;
      }
      case 'temperatures': {
        const p = infos.get(e.data.id);
        if (p) infos.set(e.data.id, { ...p, temperatures: e.data.temperatures });
        emit(e.data.id, { kind: 'temps', sample: tempSample(e.data.temperatures, now()) });
        emit(e.data.id, { kind: 'changed' });
        return;
      }
      case 'log':
        // OctoPrint's terminal lines: "Send: G28", "Recv: ok"
        emit(e.data.id, { kind: 'log', line: `${e.data.direction === 'sent' ? 'Send' : 'Recv'}: ${e.data.line}` });
        return;
      case 'prompt': {
        const p = infos.get(e.data.id);
        if (p) { const { prompt: _old, ...rest } = p; infos.set(e.data.id, e.data.prompt ? { ...rest, prompt: e.data.prompt } : rest); }
        emit(e.data.id, { kind: 'plugin', plugin: 'action_command_prompt', data: promptMessage(e.data.prompt) });
        return;
      }
      case 'notification':
        // as OctoPrint's bundled action_command_notification plugin sends it
        emit(e.data.id, { kind: 'plugin', plugin: 'action_command_notification', data: { message: e.data.text } });
        return;
      case 'removed':
        infos.delete(e.data.id);
        emitEvents(e.data.id, [{ type: 'Disconnected', payload: null }]);
        emit(e.data.id, { kind: 'changed' });
        return;
    }
  }

  // UpdatedFiles after an upload or delete, to every printer's sockets: the files are shared (octoprint/events.py UPDATED_FILES).
  const filesChanged = () => { for (const id of watchers.keys()) emitEvents(id, [{ type: 'UpdatedFiles', payload: { type: 'printables' } }]); };

  function close(): void {
    stop?.();
    stop = undefined;
    deps.fileChanges?.off('changed', filesChanged);
    infos.clear();
  }

  return {
    watch(printerId, fn) {
      if (!stop) {
        stop = deps.printer.subscribe('events.subscribe', onEvent);
        deps.fileChanges?.on('changed', filesChanged);
      }
      let set = watchers.get(printerId);
      if (!set) watchers.set(printerId, (set = new Set()));
      set.add(fn);
      return () => {
        set.delete(fn);
        if (set.size === 0 && watchers.get(printerId) === set) watchers.delete(printerId);
        if (watchers.size === 0) close();
      };
    },
    info: (id) => infos.get(id),
    seed(p) { if (!infos.has(p.id)) infos.set(p.id, p); },
    close,
  };
}
