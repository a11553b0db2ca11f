/** printbox.txt parsing and rewriting (services/linker/parse.ts, rewrite.ts) on the odd files people make. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootFile } from '../../services/linker/parse.ts';
import { renderBootFile } from '../../services/linker/rewrite.ts';

const parse = (s: string | Buffer) => parseBootFile(Buffer.isBuffer(s) ? s : Buffer.from(s));

test('BOM, CRLF, quotes, comments, key case, duplicates, init keys', () => {
  const p = parse('\uFEFF# c\r\nEMAIL = "a@b.example"\r\npassword=\'p w\'\r\n; also a comment\r\nemail = c@d.example\r\nadmin_user = pi\r\nnonsense line\r\n');
  assert.deepEqual(p.errors, []);
  assert.equal(p.settings.email, 'c@d.example');
  assert.equal(p.settings.password, 'p w');
  assert.equal(p.eol, '\r\n');
  assert.deepEqual(p.warnings, ['line 5: "email" given twice; the last one counts', 'line 7: ignored, not "key = value"']);
});

test('validation errors name the problem and never the secret', () => {
  const p = parse('email = x@y.example\npassword = hunter2hunter2\nlink_token = lt_secret_token_value\nhostname = -bad-\noffline = maybe\nwifi_password = shortpw\n');
  assert.deepEqual(p.errors, [
    'give either password or link_token, not both',
    'offline must be yes or no, got "maybe"',
    'hostname "-bad-" is invalid (letters, digits and "-", at most 63, not starting or ending with "-")',
    'wifi_password / wifi_country need a wifi_ssid',
  ]);
  assert.ok(!p.errors.join().includes('hunter2') && !p.errors.join().includes('lt_secret'));
  assert.deepEqual(parse('password = abcdefgh\n').errors, ['password needs an email']);
  assert.deepEqual(parse('cloud_url = http://cloud.example\n').errors, ['cloud_url "http://cloud.example" must be an https:// URL']);
  assert.deepEqual(parse('offline = yes\nemail = a@b.example\n').errors, ['offline = yes cannot be combined with email or link_token']);
  assert.deepEqual(parse('wifi_ssid = x\nwifi_country = Germany\n').errors, ['wifi_country "Germany" must be a two-letter country code such as DE or US']);
});

test('encodings: UTF-16 LE/BE with and without BOM, binary, oversize', () => {
  const text = 'email = a@b.example\r\n';
  for (const buf of [
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    Buffer.from(text, 'utf16le'),
    Buffer.from(text, 'utf16le').swap16(),
  ]) {
    const p = parse(buf);
    assert.equal(p.kind, 'utf16');
    assert.match(p.errors[0]!, /UTF-16/);
    assert.equal(p.lines[0]?.value, 'a@b.example');
  }
  assert.equal(parse(Buffer.from([0xc3, 0x28, 0x41])).kind, 'binary');
  assert.match(parse(Buffer.alloc(70_000, 0x41)).errors[0]!, /70000 bytes/);
});

test('rewrite keeps user lines, replaces old results, removes used secrets', () => {
  const p = parse('# printbox: old result\nemail = a@b.example\npassword = "pw pw pw"\nwifi_password =\n\n');
  const out = renderBootFile({ lines: p.lines, scrub: new Set(['password', 'wifi_password']), result: ['now OK'], eol: '\n' });
  assert.equal(out, '# printbox: now OK\nemail = a@b.example\n# password = (removed after use)\nwifi_password =\n');
});
