/**
 * The device's identity copied into a freshly written slot, on real files: accounts merged, host keys
 * and Wi-Fi profiles with their owner and mode, the timezone symlink as a symlink, and nothing of the new
 * slot's own configuration overwritten (its sshd_config stays the new version's).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { carryOver } from '../../services/updater/carry-over.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-carry-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function root(name: string, files: Record<string, string | { data: string; mode: number; uid?: number; gid?: number } | { link: string }>): string {
  const r = path.join(dir, name);
  for (const [rel, f] of Object.entries(files)) {
    const p = path.join(r, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof f === 'string') fs.writeFileSync(p, f);
    else if ('link' in f) fs.symlinkSync(f.link, p);
    else { fs.writeFileSync(p, f.data, { mode: f.mode }); fs.chmodSync(p, f.mode); if (f.uid !== undefined) fs.chownSync(p, f.uid, f.gid ?? f.uid); }
  }
  return r;
}

const accounts = (people: boolean) => ({
  'etc/passwd': `root:x:0:0:root:/root:/bin/bash\n${people ? 'maker:x:1000:1000::/home/maker:/bin/bash\n' : ''}`,
  'etc/group': `root:x:0:\nshadow:x:42:\nsudo:x:27:${people ? 'maker' : ''}\n${people ? 'maker:x:1000:\n' : ''}`,
  'etc/shadow': { data: `root:${people ? '$y$old' : '*'}:1:0:99999:7:::\n${people ? 'maker:$y$maker:1:0:99999:7:::\n' : ''}`, mode: 0o640, uid: 0, gid: 42 },
  'etc/gshadow': { data: `root:*::\nshadow:*::\nsudo:*::${people ? 'maker' : ''}\n${people ? 'maker:!::\n' : ''}`, mode: 0o640, uid: 0, gid: 42 },
});

test('accounts, host keys, Wi-Fi, name and timezone move into the new slot; its own configuration stays', () => {
  const running = root('running', {
    ...accounts(true),
    'etc/hostname': 'workshop\n',
    'etc/localtime': { link: '/usr/share/zoneinfo/Europe/Berlin' },
    'etc/ssh/ssh_host_ed25519_key': { data: 'PRIVATE\n', mode: 0o600 },
    'etc/ssh/ssh_host_ed25519_key.pub': { data: 'PUBLIC\n', mode: 0o644 },
    'etc/ssh/sshd_config': 'old sshd config\n',
    'etc/NetworkManager/system-connections/HomeNet.nmconnection': { data: '[wifi]\nssid=HomeNet\n', mode: 0o600 },
    'etc/printbox/printbox.env': 'PRINTBOX_LOG_LEVEL=debug\n',
    'root/.ssh/authorized_keys': { data: 'ssh-ed25519 AAAA admin\n', mode: 0o600 },
  });
  const fresh = root('fresh', {
    ...accounts(false),
    'etc/hostname': 'printbox\n',
    'etc/localtime': { link: '/usr/share/zoneinfo/Etc/UTC' },
    'etc/ssh/sshd_config': 'new sshd config\n',
    'etc/printbox/printbox.env': '# defaults\n',
  });
  const report = carryOver(running, fresh);
  assert.deepEqual(report.accounts, ['maker']);
  assert.deepEqual(report.copied, [
    'etc/hostname', 'etc/localtime', 'etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub',
    'etc/NetworkManager/system-connections/HomeNet.nmconnection', 'etc/printbox/printbox.env', 'root/.ssh/authorized_keys',
  ]);
  const f = (rel: string) => path.join(fresh, rel);
  assert.match(fs.readFileSync(f('etc/passwd'), 'utf8'), /^maker:x:1000:/m);
  assert.match(fs.readFileSync(f('etc/shadow'), 'utf8'), /^root:\$y\$old:/m);
  assert.match(fs.readFileSync(f('etc/group'), 'utf8'), /^sudo:x:27:maker$/m);
  const shadow = fs.statSync(f('etc/shadow'));
  assert.equal(shadow.mode & 0o777, 0o640);
  assert.equal(shadow.gid, 42, 'shadow keeps its group');
  assert.equal(fs.readFileSync(f('etc/hostname'), 'utf8'), 'workshop\n');
  assert.equal(fs.readlinkSync(f('etc/localtime')), '/usr/share/zoneinfo/Europe/Berlin');
  assert.equal(fs.statSync(f('etc/ssh/ssh_host_ed25519_key')).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(f('etc/ssh/sshd_config'), 'utf8'), 'new sshd config\n', 'the new version keeps its sshd_config');
  assert.equal(fs.statSync(f('etc/NetworkManager/system-connections/HomeNet.nmconnection')).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(f('etc/printbox/printbox.env'), 'utf8'), 'PRINTBOX_LOG_LEVEL=debug\n');
  assert.ok(!fs.readdirSync(f('etc')).some((n) => n.endsWith('.printbox-new')), 'no temporary file left');
});
