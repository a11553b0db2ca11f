/**
 * Connecting to boards that are in trouble, over a real pty to the virtual Marlin: a halt during the
 * handshake, a board that halts at every boot (MINTEMP), and a slow bootloader that needs more than 3 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../services/shared/config.ts';
import { printerSchema } from '../../services/printer/config.ts';
import { createRig } from '../helpers/virtual-printer.ts';

test('a fatal error during the handshake leaves the printer in error, and a job is refused', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2 });
  try {
    const id = await rig.waitFor(() => rig.manager.list()[0]?.id, 10_000, 'printer seen');
    const printer = rig.manager.get(id);
    await rig.waitFor(() => printer.state === 'idle', 10_000, 'first connect');
    rig.vp.sim.haltAt((c) => c === 'M115', 'MAXTEMP triggered, system stopped! Heater_ID: 0');
    await printer.reconnect(); // resolves when the handshake is over
    assert.equal(printer.state, 'error');
    assert.match(printer.error ?? '', /MAXTEMP/);
    await rig.files.save('x.gcode', 'G28\n');
    await assert.rejects(printer.start('x.gcode'), { code: 'busy' });
  } finally { await rig.close(); }
});

test('a board that halts at boot: the probe reports the firmware error, not "No printer answered"', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, bootError: 'MINTEMP triggered, system stopped! Heater_ID: bed' });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'error'), 15_000, 'error state');
    assert.match(p.error ?? '', /MINTEMP triggered/);
  } finally { await rig.close(); }
});

test('probing defaults: 115200 first, and each rate waits long enough for a 4.5 s boot', { timeout: 40_000 }, async () => {
  const { config, errors } = loadConfig(printerSchema, {});
  assert.deepEqual(errors, []);
  assert.equal(config.baudrates[0], 115_200);
  assert.ok(loadConfig(printerSchema, { PRINTBOX_PROBE_TIMEOUT_MS: '50' }).errors.length > 0, 'absurd waits are refused');
  const rig = await createRig({ baud: 115_200, latencyMs: 2, bootMs: 4500 }, { probeTimeoutMs: (config as { probeTimeoutMs?: number }).probeTimeoutMs });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle' || x.state === 'error'), 30_000, 'probe over');
    assert.equal(p.state, 'idle', p.error);
  } finally { await rig.close(); }
});
