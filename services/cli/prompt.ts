/**
 * Console prompts for `printbox link` over SSH: a visible line for the email and a hidden one for
 * the password (the terminal is put in raw mode so nothing is echoed — not even asterisks, which
 * would leak the length). Without a TTY the answers are read as plain lines from stdin (scripts).
 */
import { AppError } from '../shared/errors.ts';

export interface Io {
  stdin: NodeJS.ReadStream;
  /** Prompts go to stderr so `printbox status --json` style stdout stays clean. */
  stderr: NodeJS.WriteStream;
}

/** Reads lines from a non-TTY stdin; each call returns the next line (undefined at EOF). */
export function lineReader(stdin: NodeJS.ReadableStream): () => Promise<string | undefined> {
  let buf = '';
  let ended = false;
  const waiters: Array<() => void> = [];
  stdin.setEncoding('utf8');
  stdin.on('data', (c: string) => { buf += c; waiters.splice(0).forEach((w) => w()); });
  stdin.on('end', () => { ended = true; waiters.splice(0).forEach((w) => w()); });
  return async () => {
    for (;;) {
      const i = buf.indexOf('\n');
      if (i >= 0) { const line = buf.slice(0, i).replace(/\r$/, ''); buf = buf.slice(i + 1); return line; }
      if (ended) { const rest = buf; buf = ''; return rest ? rest : undefined; }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
}

/** The visible prompt is always followed by a hidden one, so the terminal stays raw in between. */
export function askVisible(io: Io, question: string): Promise<string> {
  return readTty(io, question, true, true);
}

export function askHidden(io: Io, question: string): Promise<string> {
  return readTty(io, question, false, false);
}

function readTty(io: Io, question: string, echo: boolean, keepRaw: boolean): Promise<string> {
  const { stdin, stderr } = io;
  return new Promise((resolve, reject) => {
    let value = '';
    // Raw (no kernel echo) before the prompt is shown: whatever is typed once it is visible — or typed ahead
    // while the previous answer was being handled — is never echoed by the terminal itself.
    stdin.setRawMode(true);
    stderr.write(question);
    stdin.setEncoding('utf8');
    stdin.resume();
    const finish = (err?: AppError) => {
      stdin.off('data', onData);
      if (!keepRaw || err) stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err); else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new AppError('cancelled', 130, 'Cancelled'));
        if (ch === '\u007f' || ch === '\b') {
          if (value.length) { value = value.slice(0, -1); if (echo) stderr.write('\b \b'); }
          continue;
        }
        if (ch < ' ') continue; // other control keys (arrows arrive as ESC sequences; their tail is printable, a rare nuisance)
        value += ch;
        if (echo) stderr.write(ch);
      }
    };
    stdin.on('data', onData);
  });
}
