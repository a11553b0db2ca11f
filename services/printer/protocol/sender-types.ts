/** The sender's vocabulary (sender.ts): what it sends, what it is told to send, and what it reports. */

export interface JobLine { cmd: string; index: number; byteEnd: number }
/** Job lines pulled synchronously; 'wait' = not read from disk yet (call onReady), null = end of file. */
export interface LineSource { next(): JobLine | 'wait' | null; onReady(fn: () => void): void }

export type Tag = { kind: 'job'; line: JobLine } | { kind: 'cmd'; cmd: string; id: number } | { kind: 'raw'; cmd: string };
/** n = -1: unnumbered. alias: the number the firmware asks for if it rejects this M110 (its old count). */
export interface Entry { n: number; wire: string; tag: Tag; alias?: number }

export interface SenderOptions {
  write: (data: string) => void;
  okTimeoutMs?: number;
  /** The wait for the ok of a long-running command (LONG_RUNNING). */
  longOkTimeoutMs?: number;
  /** Unanswered M105 polls before the sender gives up. */
  maxPolls?: number;
  /** Real resend requests for the same line in a row before the sender gives up. */
  maxResends?: number;
  rxBytes?: number;
  /** The longest line the firmware reads whole, newline included (see MAX_WIRE_LINE). */
  maxLineBytes?: number;
}

export type FailureCode = 'no_response' | 'line_numbering' | 'resend_unknown' | 'resend_limit';
export interface SenderFailure { code: FailureCode; message: string }

export interface SenderEvents {
  acked: [Tag];
  drained: [];
  timeout: [];
  resend: [number];
  /** The sender stopped: the firmware no longer answers, or its line numbering cannot be trusted. */
  failed: [SenderFailure];
  /** A job line too long for the firmware: not sent, and the job's source dropped (the link is fine). */
  refused: [JobLine, string];
}
