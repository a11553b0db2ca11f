/**
 * The camera for bench/camera.ts in a process of its own (so the bench's CPU figures hold only the viewers):
 * the ustreamer stand-in (test/helpers/fake-ustreamer.ts) on `<socket>` sending `<jpeg>` every `<ms>`.
 */
import fs from 'node:fs';
import { startFakeUstreamer } from '../test/helpers/fake-ustreamer.ts';

const [socket, jpeg, ms] = process.argv.slice(2);
await startFakeUstreamer(socket!, { jpegs: [fs.readFileSync(jpeg!)], frameMs: Number(ms) });
process.stdout.write('camera ready\n');
process.on('SIGTERM', () => process.exit(0));
