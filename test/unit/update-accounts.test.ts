/** The device's accounts carried into a freshly written slot that brings a new system user of its own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeAccounts } from '../../services/updater/accounts.ts';

const running = {
  passwd: [
    'root:x:0:0:root:/root:/bin/bash',
    'printbox:x:999:999::/nonexistent:/usr/sbin/nologin',
    'maker:x:1000:1000:Imager account:/home/maker:/bin/bash',
    'admin:x:1001:1001::/home/admin:/bin/bash',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  ].join('\n') + '\n',
  shadow: ['root:$y$j9T$rootsalt$roothash:20000:0:99999:7:::', 'printbox:!:20000::::::', 'maker:$5$salt$makerhash:20001:0:99999:7:::', 'admin:$y$j9T$a$adminhash:20001:0:99999:7:::', 'nobody:*:20000:0:99999:7:::'].join('\n') + '\n',
  group: ['root:x:0:', 'sudo:x:27:maker', 'printbox:x:999:maker,admin', 'printbox-admins:x:998:admin', 'maker:x:1000:', 'admin:x:1001:', 'nogroup:x:65534:'].join('\n') + '\n',
  gshadow: ['root:*::', 'sudo:*::maker', 'printbox:!::maker,admin', 'printbox-admins:!::admin', 'maker:!::', 'admin:!::', 'nogroup:*::'].join('\n') + '\n',
};

const fresh = {
  passwd: [
    'root:x:0:0:root:/root:/bin/bash',
    'printbox:x:999:999::/nonexistent:/usr/sbin/nologin',
    'printbox-update:x:997:997::/nonexistent:/usr/sbin/nologin',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  ].join('\n') + '\n',
  shadow: ['root:*:20100:0:99999:7:::', 'printbox:!:20100::::::', 'printbox-update:!:20100::::::', 'nobody:*:20100:0:99999:7:::'].join('\n') + '\n',
  group: ['root:x:0:', 'sudo:x:27:', 'printbox:x:999:printbox-update', 'printbox-admins:x:998:', 'printbox-update:x:997:', 'nogroup:x:65534:'].join('\n') + '\n',
  gshadow: ['root:*::', 'sudo:*::', 'printbox:!::printbox-update', 'printbox-admins:!::', 'printbox-update:!::', 'nogroup:*::'].join('\n') + '\n',
};

test("the new slot keeps its system users and gains the device's people, their groups and every password", () => {
  const m = mergeAccounts(running, fresh);
  assert.equal(m.passwd, [
    'root:x:0:0:root:/root:/bin/bash',
    'printbox:x:999:999::/nonexistent:/usr/sbin/nologin',
    'printbox-update:x:997:997::/nonexistent:/usr/sbin/nologin',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    'maker:x:1000:1000:Imager account:/home/maker:/bin/bash',
    'admin:x:1001:1001::/home/admin:/bin/bash',
  ].join('\n') + '\n');
  assert.equal(m.shadow, [
    'root:$y$j9T$rootsalt$roothash:20000:0:99999:7:::',
    'printbox:!:20100::::::',
    'printbox-update:!:20100::::::',
    'nobody:*:20100:0:99999:7:::',
    'maker:$5$salt$makerhash:20001:0:99999:7:::',
    'admin:$y$j9T$a$adminhash:20001:0:99999:7:::',
  ].join('\n') + '\n');
  assert.equal(m.group, [
    'root:x:0:', 'sudo:x:27:maker', 'printbox:x:999:printbox-update,maker,admin', 'printbox-admins:x:998:admin', 'printbox-update:x:997:', 'nogroup:x:65534:',
    'maker:x:1000:', 'admin:x:1001:',
  ].join('\n') + '\n');
  assert.equal(m.gshadow, [
    'root:*::', 'sudo:*::maker', 'printbox:!::printbox-update,maker,admin', 'printbox-admins:!::admin', 'printbox-update:!::', 'nogroup:*::',
    'maker:!::', 'admin:!::',
  ].join('\n') + '\n');
});

test('merging twice changes nothing more (an interrupted install that runs the hook again)', () => {
  const once = mergeAccounts(running, fresh);
  assert.deepEqual(mergeAccounts(running, once), once);
});
