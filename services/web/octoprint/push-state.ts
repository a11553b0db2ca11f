/**
 * What OctoPrint's push API says about a printer (docs.octoprint.org "Push updates", 1.11): the
 * `history`/`current` payloads (octoprint/printer/standard.py StateMonitor.get_current_data and
 * _sendInitialStateUpdate) and the events a change of a PrinterInfo amounts to (octoprint/events.py
 * names, payloads as standard.py _payload_for_print_job_event builds them).
 */
import type { HostPrompt, JobInfo, PrinterInfo, Temperatures } from '../../shared/ipc.ts';
import { activeJob, isOperational, printerState, stateText, temperatures } from './state.ts';

export interface PushEvent { type: string; payload: unknown }

/** One entry of `temps`: {"time", "tool0": {"actual", "target"}, "bed"…} as standard.py _addTemperatureData. */
export function tempSample(t: Temperatures, nowMs: number): Record<string, unknown> {
  const sample: Record<string, unknown> = { time: Math.floor(nowMs / 1000) };
  for (const [name, v] of Object.entries(temperatures(t))) sample[name] = { actual: v.actual, target: v.target };
  return sample;
}

/** OctoPrint's state ids (octoprint/printer/standard.py get_state_id), for PrinterStateChanged. */
function stateId(p: PrinterInfo): string {
  switch (p.state) {
    case 'idle': return 'OPERATIONAL';
    case 'printing': return 'PRINTING';
    case 'paused': return p.job?.parked === false ? 'PAUSING' : 'PAUSED';
    case 'detecting': return 'DETECT_SERIAL';
    case 'connecting': return 'CONNECTING';
    case 'error': return 'ERROR';
    case 'disconnected': return 'OFFLINE';
  }
}

/** The print job events' common payload: the file on the "local" origin. */
function jobPayload(job: JobInfo, withTime: boolean): Record<string, unknown> {
  const payload: Record<string, unknown> = { name: job.file, path: job.file, origin: 'local', size: job.bytes_total, owner: null, user: null };
  if (withTime) payload.time = Math.max(0, ((job.ended_at ? Date.parse(job.ended_at) : Date.now()) - Date.parse(job.started_at)) / 1000);
  return payload;
}

/** A job's change as OctoPrint's events; a cancel is PrintCancelled then PrintFailed with reason "cancelled", as in standard.py. */
export function jobEvents(before: JobInfo | undefined, after: JobInfo): PushEvent[] {
  const same = before?.id === after.id;
  if (same && before!.state === after.state) return [];
  const out: PushEvent[] = [];
  if (!same && (after.state === 'printing' || after.state === 'paused')) out.push({ type: 'PrintStarted', payload: jobPayload(after, false) });
  switch (after.state) {
    case 'paused': if (same) out.push({ type: 'PrintPaused', payload: jobPayload(after, false) }); break;
    case 'printing': if (same) out.push({ type: 'PrintResumed', payload: jobPayload(after, false) }); break;
    case 'done': out.push({ type: 'PrintDone', payload: jobPayload(after, true) }); break;
    case 'cancelled':
      out.push({ type: 'PrintCancelled', payload: jobPayload(after, true) });
      out.push({ type: 'PrintFailed', payload: { ...jobPayload(after, true), reason: 'cancelled' } });
      break;
    case 'failed': out.push({ type: 'PrintFailed', payload: { ...jobPayload(after, true), reason: 'error' } }); break;
  }
  return out;
}

/** A printer's state change as PrinterStateChanged, plus Connected / Disconnected at the edges. */
export function printerEvents(before: PrinterInfo | undefined, after: PrinterInfo): PushEvent[] {
  if (before && stateText(before) === stateText(after)) return [];
  const out: PushEvent[] = [{ type: 'PrinterStateChanged', payload: { state_id: stateId(after), state_string: stateText(after) } }];
  const was = before !== undefined && isOperational(before);
  if (!was && isOperational(after) && before) out.push({ type: 'Connected', payload: { port: after.port, baudrate: after.baudrate ?? null } });
  if (before && before.state !== 'disconnected' && after.state === 'disconnected') out.push({ type: 'Disconnected', payload: null });
  if (before && before.state !== 'error' && after.state === 'error') out.push({ type: 'Error', payload: { error: after.error ?? 'error', reason: 'firmware' } });
  return out;
}

/**
 * A host prompt as OctoPrint's bundled action_command_prompt plugin pushes it (plugins/action_command_prompt
 * _show_prompt / _close_prompt): `{"action": "show", "text", "choices"}` or `{"action": "close"}`. Clients
 * answer through PrintBox's POST /api/printers/:id/prompt.
 */
export function promptMessage(p: HostPrompt | null): Record<string, unknown> {
  return p ? { action: 'show', text: p.text, choices: p.choices } : { action: 'close' };
}

/** The part of `current` and `history` that is state, not backlog (StateMonitor.get_current_data). */
export function statePart(p: PrinterInfo, job: { job: unknown; progress: unknown }): Record<string, unknown> {
  const running = activeJob(p);
  return {
    state: printerState(p),
    job: job.job,
    progress: job.progress,
    currentZ: null,
    offsets: {},
    resends: { count: 0, transmitted: running?.lines_sent ?? 0, ratio: 0 },
    // the file a printing or paused job reads (sockjs.py on_printer_send_current_data)
    busyFiles: running ? [{ origin: 'local', path: running.file }] : [],
    markings: [],
  };
}
