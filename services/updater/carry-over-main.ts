/**
 * `node carry-over-main.js OLD_ROOT NEW_ROOT`: RAUC's post-install handler (image/overlay/usr/lib/printbox/
 * rauc-post-install) runs it as root with the freshly written slot mounted at NEW_ROOT. A failure fails
 * the install: RAUC then leaves the boot order as it was, and the device keeps running the old slot.
 */
import { carryOver } from './carry-over.ts';

const [oldRoot, newRoot] = process.argv.slice(2);
if (!oldRoot || !newRoot) {
  process.stderr.write('usage: carry-over-main OLD_ROOT NEW_ROOT\n');
  process.exit(2);
}
try {
  const r = carryOver(oldRoot, newRoot);
  process.stdout.write(`carried over: accounts ${r.accounts.join(', ') || '(none)'}; ${r.copied.length} files (${r.copied.join(', ')})\n`);
} catch (e) {
  process.stderr.write(`carrying the device's identity into the new slot failed: ${(e as Error).message}\n`);
  process.exit(1);
}
