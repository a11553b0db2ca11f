/**
 * The config.txt reading the emulated-Pi boot relies on (test/image/pi-firmware.ts), on host strings:
 * conditional sections, last value wins, include, and the `initramfs` command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PI3B, parseConfigTxt } from './pi-firmware.ts';

// What Debian's raspi-firmware writes (/etc/kernel/postinst.d/z50-raspi-firmware), plus sections.
const DEBIAN = `# Do not modify this file!
arm_64bit=1
enable_uart=1
upstream_kernel=1
kernel=vmlinuz-7.3.4+deb13-arm64
# For details on the initramfs directive, see
initramfs initrd.img-7.3.4+deb13-arm64
`;

test("Debian's generated config.txt: kernel, initramfs and the mainline DTB names", () => {
  const cfg = parseConfigTxt(DEBIAN, PI3B);
  assert.equal(cfg.settings.get('kernel'), 'vmlinuz-7.3.4+deb13-arm64');
  assert.equal(cfg.settings.get('arm_64bit'), '1');
  assert.equal(cfg.settings.get('upstream_kernel'), '1');
  assert.equal(cfg.initramfs, 'initrd.img-7.3.4+deb13-arm64');
});

test('sections: other models, [none] and non-model filters do not apply; [all] resets', () => {
  const cfg = parseConfigTxt(`kernel=a
[pi4]
kernel=pi4-only
[pi3]
kernel=b
[none]
kernel=never
[tryboot]
kernel=never-either
[all]
initramfs init.gz followkernel
[pi3+]
arm_64bit=0
`, PI3B);
  assert.equal(cfg.settings.get('kernel'), 'b');
  assert.equal(cfg.initramfs, 'init.gz');
  assert.equal(cfg.settings.get('arm_64bit'), undefined);
});

test('include is read in place; comments and CRLF are ignored', () => {
  const cfg = parseConfigTxt('kernel=a\r\ninclude extra.txt\r\nenable_uart=1 # serial\r\n', PI3B,
    (n) => (n === 'extra.txt' ? 'kernel=from-include\n' : ''));
  assert.equal(cfg.settings.get('kernel'), 'from-include');
  assert.equal(cfg.settings.get('enable_uart'), '1');
});
