/**
 * Cameras on the booted image, with a real V4L2 device: the Debian kernel's `vivid` test driver, loaded in the
 * QEMU guest (this machine's own kernel cannot load modules). What runs is the image's own: udev's rule starts
 * printbox-camera@<node>.service for each capture node, Debian's ustreamer captures and encodes, the web
 * proxies it behind the sign-in, the path unit applies new settings, and Debian's ffmpeg encodes the camera's
 * frames the way the timelapse recorder runs it, under the web unit's own syscall filter. Unplugging is the driver unbinding
 * from its device, which removes the video nodes as a USB disconnect does.
 *
 * Registered by boot.test.ts after its own checks, so they share one boot and the idle figures are taken
 * before any camera exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mjpegPartCounter } from '../helpers/mjpeg.ts';
import { guestRequest, waitFor, type Guest } from './qemu.ts';

interface Viewer { frames(): number; isEnded(): boolean; close(): void }

/** ustreamer's multipart boundary (its /stream answer says so; checked below). */
const BOUNDARY = 'boundarydonotcross';
const UNBIND = '/sys/bus/platform/drivers/vivid';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function cameraChecks(g: Guest): void {
  const call = async (method: string, path: string, opts: { cookie?: string; json?: unknown; headers?: Record<string, string> } = {}) => {
    const r = await guestRequest(`https://127.0.0.1:${g.httpsPort()}${path}`, { method, body: opts.json, cookie: opts.cookie, headers: opts.headers, timeoutMs: 60_000 });
    return { status: r.status, type: String(r.headers['content-type'] ?? ''), body: r.raw, text: r.body };
  };
  const json = async (method: string, path: string, cookie: string, body?: unknown) => {
    const r = await call(method, path, { cookie, json: body });
    return { status: r.status, body: JSON.parse(r.text || 'null') as unknown, text: r.text };
  };
  const view = (path: string, cookie: string) => new Promise<Viewer>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: g.httpsPort(), path, rejectUnauthorized: false, headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) { res.resume(); return reject(new Error(`${path}: ${res.statusCode}`)); }
      assert.match(String(res.headers['content-type']), new RegExp(`multipart/x-mixed-replace;\\s*boundary=${BOUNDARY}`));
      const parts = mjpegPartCounter(BOUNDARY);
      let done = false;
      res.on('close', () => { done = true; });
      res.on('data', (c: Buffer) => parts.feed(c));
      resolve({ frames: () => parts.parts, isEnded: () => done, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
  /** the video nodes vivid made, with the capabilities udev found (ID_V4L_CAPABILITIES) */
  const nodes = async () => (await g.ssh('for d in /sys/class/video4linux/video*; do [ -e "$d" ] || continue; n=${d##*/}; ' +
    'echo "$n $(udevadm info -q property -n /dev/$n | sed -n s/^ID_V4L_CAPABILITIES=//p)"; done'))
    .trim().split('\n').filter(Boolean).map((l) => { const [name, caps = ''] = l.split(' '); return { name: name!, capture: caps.includes(':capture:') }; });
  const cameraUnits = async () => (await g.ssh("systemctl list-units --plain --no-legend --state=active 'printbox-camera@*.service' | awk '{print $1}'"))
    .trim().split('\n').filter(Boolean).sort();
  const cameras = async (cookie: string) => (await json('GET', '/api/cameras', cookie)).body as Array<{ id: string; online: boolean; resolution?: { width: number; height: number } }>;

  let cookie = '';
  let cam = '';

  test('camera: each V4L2 capture node gets its own ustreamer unit and socket; output nodes get none', async () => {
    cookie = await g.login();
    assert.deepEqual(await cameras(cookie), [], 'cameras before any device');
    const t0 = Date.now();
    await g.sudo('modprobe vivid');
    const all = await waitFor('vivid video nodes', 60_000, async () => { const n = await nodes(); return n.length >= 2 ? n : undefined; });
    const capture = all.filter((n) => n.capture).map((n) => n.name);
    console.log(`# vivid nodes: ${all.map((n) => `${n.name}${n.capture ? ' (capture)' : ''}`).join(', ')}`);
    assert.ok(capture.length >= 1 && capture.length < all.length, 'vivid makes capture and output nodes');
    cam = capture[0]!;
    const expected = capture.map((n) => `printbox-camera@${n}.service`).sort();
    await waitFor('camera units active', 120_000, async () => JSON.stringify(await cameraUnits()) === JSON.stringify(expected) ? true : undefined);
    const online = await waitFor('camera online in /api/cameras', 120_000, async () => {
      const list = await cameras(cookie);
      return list.find((c) => c.id === cam && c.online) ? list : undefined;
    });
    console.log(`# camera ${cam}: streaming ${((Date.now() - t0) / 1000).toFixed(0)} s after modprobe, ${JSON.stringify(online.find((c) => c.id === cam)?.resolution)}`);
    assert.deepEqual(online.map((c) => c.id).sort(), capture.sort());
    const sock = await g.sudo(`stat -c '%U %G %a' /run/printbox-camera/${cam}.sock`);
    assert.equal(sock.trim(), 'printbox-camera printbox-camera 660');
    const main = (await g.ssh(`systemctl show -p MainPID --value printbox-camera@${cam}.service`)).trim();
    assert.equal((await g.sudo(`stat -c %U /proc/${main} && readlink /proc/${main}/exe`)).trim(), 'printbox-camera\n/usr/bin/ustreamer');
    // Its own network namespace (PrivateNetwork): whatever it might bind, nothing outside the device reaches it.
    const netns = (await g.sudo(`readlink /proc/${main}/ns/net /proc/1/ns/net`)).trim().split('\n');
    assert.notEqual(netns[0], netns[1], 'the camera runs without the host network');
  });

  test('camera: snapshot and MJPEG stream through the web with a session, none without; a second viewer does not starve the first', async () => {
    const snap = await call('GET', `/camera/${cam}/snapshot`, { cookie });
    assert.equal(snap.status, 200);
    assert.equal(snap.type, 'image/jpeg');
    assert.ok(snap.body.subarray(0, 2).equals(Buffer.from([0xff, 0xd8])) && snap.body.subarray(-2).equals(Buffer.from([0xff, 0xd9])), 'a whole JPEG');
    for (const p of [`/camera/${cam}/snapshot`, `/camera/${cam}/stream`]) {
      assert.equal((await call('GET', p)).status, 401, `${p} without a session`);
      // OctoPrint's answer to a key it does not know: 403
      assert.equal((await call('GET', p, { headers: { 'X-Api-Key': 'x'.repeat(43) } })).status, 403, `${p} with a bad API key`);
    }
    const a = await view(`/camera/${cam}/stream`, cookie);
    await waitFor('first frames', 60_000, async () => a.frames() >= 2 ? true : undefined);
    const span = 8000;
    let at = a.frames(); await sleep(span); const alone = a.frames() - at;
    const b = await view(`/camera/${cam}/stream`, cookie);
    await waitFor('second viewer frames', 60_000, async () => b.frames() >= 2 ? true : undefined);
    at = a.frames(); const bt = b.frames(); await sleep(span);
    const [first, second] = [a.frames() - at, b.frames() - bt];
    console.log(`# frames in ${span / 1000} s under QEMU: one viewer ${alone}; two viewers ${first} + ${second}`);
    a.close(); b.close();
    assert.ok(alone >= 3, `one viewer got ${alone} frames`);
    assert.ok(first >= alone / 3 && second >= alone / 3, `with two viewers: ${first} and ${second} (alone ${alone})`);
  });

  test('camera: new capture settings restart its streamer with them (path unit); bad ones are refused, listed, not applied', async () => {
    const bad = await json('PUT', `/api/cameras/${cam}/settings`, cookie, { resolution: '321x240', fps: 0 });
    assert.equal(bad.status, 400, bad.text);
    assert.equal((bad.body as { error: { details: { errors: unknown[] } } }).error.details.errors.length, 2, bad.text);
    const pid = async () => (await g.ssh(`systemctl show -p MainPID --value printbox-camera@${cam}.service`)).trim();
    const before = await pid();
    const ok = await json('PUT', `/api/cameras/${cam}/settings`, cookie, { resolution: '640x360', fps: 5 });
    assert.equal(ok.status, 200, ok.text);
    assert.match(await g.sudo(`cat /var/lib/printbox/cameras/${cam}.env`), /--resolution=640x360 --desired-fps=5/);
    // 640x360: one of the frame sizes vivid's webcam input offers (it has no 320x240).
    await waitFor('camera at 640x360', 120_000, async () => {
      const c = (await cameras(cookie)).find((x) => x.id === cam);
      return c?.online && c.resolution?.width === 640 && c.resolution.height === 360 ? true : undefined;
    });
    assert.notEqual(await pid(), before, 'the streamer was restarted');
  });

  test('camera: unplugging ends its stream, its unit and its listing; plugging it back brings it again', async () => {
    const v = await view(`/camera/${cam}/stream`, cookie);
    await waitFor('frames before the unplug', 60_000, async () => v.frames() >= 2 ? true : undefined);
    await g.sudo(`echo vivid.0 > ${UNBIND}/unbind`);
    await waitFor('stream ended by the unplug', 60_000, async () => v.isEnded() ? true : undefined);
    await waitFor('no camera units', 60_000, async () => (await cameraUnits()).length === 0 ? true : undefined);
    assert.deepEqual(await cameras(cookie), []);
    assert.equal((await call('GET', `/camera/${cam}/snapshot`, { cookie })).status, 404);
    await g.sudo(`echo vivid.0 > ${UNBIND}/bind`);
    // The kernel may number the nodes differently the second time.
    cam = await waitFor('camera back online', 120_000, async () => (await cameras(cookie)).find((c) => c.online)?.id);
    assert.equal((await call('GET', `/camera/${cam}/snapshot`, { cookie })).status, 200);
  });

  test("timelapse encoder on the device: Debian's ffmpeg makes an H.264 MP4 at nice 19 / idle I/O under the web unit's own syscall filter", async () => {
    // The web runs ffmpeg as `nice -n 19 ionice -c 3 ffmpeg …` (services/web/timelapse/encoder.ts) inside its unit's
    // seccomp filter, which denies @resources except the two priority calls. The filter is read from the
    // installed unit, so this follows any change to it; the frames are the camera's own snapshots.
    const filter = (await g.ssh('systemctl show -p SystemCallFilter --value printbox-web.service')).trim();
    assert.ok(filter.length > 100 && !filter.startsWith('~'), 'the web has an allow-list syscall filter');
    assert.ok(/\bsetpriority\b/.test(filter) && /\bioprio_set\b/.test(filter) && !/\bsched_setscheduler\b/.test(filter), 'lowering priority allowed, the rest of @resources not');
    const dir = '/var/lib/printbox/encode-check';
    // Six snapshots straight from the camera's socket, with the image's own Node (it has no curl).
    await g.sudo(`rm -rf ${dir}; mkdir -p ${dir}; cd ${dir}; node -e '` +
      'const get = (i) => { if (i > 6) return; require("http").get({ socketPath: process.argv[1], path: "/snapshot" }, (r) => ' +
      '{ r.pipe(require("fs").createWriteStream(`frame-0000${i}.jpg`)).on("close", () => get(i + 1)); }); }; get(1);' +
      `' /run/printbox-camera/${cam}.sock`);
    assert.equal((await g.sudo(`ls ${dir} | wc -l`)).trim(), '6', 'six frames');
    await g.sudo(`chown -R printbox ${dir}`);
    const t0 = Date.now();
    const out = await g.sudo(`systemd-run --quiet --wait --pipe --uid=printbox -p 'SystemCallFilter=${filter}' -p SystemCallErrorNumber=EPERM ` +
      `-p NoNewPrivileges=yes nice -n 19 ionice -c 3 ffmpeg -hide_banner -loglevel error -y -framerate 5 -i ${dir}/frame-%05d.jpg ` +
      `-vf 'scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p' -c:v libx264 -preset veryfast -crf 23 -threads 2 -movflags +faststart ${dir}/out.mp4 && ` +
      `head -c 12 ${dir}/out.mp4 | od -An -c | tr -d ' \\n' && echo && stat -c %s ${dir}/out.mp4; rm -rf ${dir}`);
    console.log(`# 6 camera frames encoded on the device in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${out.trim().split('\n').pop()} bytes`);
    assert.match(out, /ftyp/, out);
  });
}
