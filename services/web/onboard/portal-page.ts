/**
 * The setup portal's one page: self-contained (a phone on the setup hotspot reaches nothing else), no
 * framework, readable on a small screen. It lists the networks in range, takes the password, and says
 * what happens next, since the phone loses the hotspot as soon as the device switches networks.
 */
export const PORTAL_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>PrintBox setup</title>
<style>
body{font:16px/1.4 system-ui,sans-serif;margin:0;padding:1rem;max-width:32rem;margin-inline:auto;color:#1b1f24;background:#f6f7f9}
h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input,select,button{font:inherit;width:100%;box-sizing:border-box;padding:.6rem}
button{margin-top:1rem;background:#1f6feb;color:#fff;border:0;border-radius:.4rem}.check{display:flex;gap:.5rem;align-items:center}.check input{width:auto}
.msg{padding:.7rem;border-radius:.4rem;margin:1rem 0}.err{background:#fde7e9;color:#8a1020}.ok{background:#e6f4ea;color:#14532d}.muted{color:#57606a;font-size:.9rem}
</style></head><body>
<h1>Connect PrintBox to your Wi-Fi</h1>
<p class="muted">PrintBox found no network it knows, so it opened this setup network. Choose your Wi-Fi and enter its password.</p>
<div id="msg" role="status"></div>
<form id="f">
<label for="net">Network</label><select id="net"></select>
<label for="ssid">Network name (SSID)</label><input id="ssid" maxlength="32" autocomplete="off" autocapitalize="none" spellcheck="false" required>
<label for="psk">Password</label><input id="psk" type="password" maxlength="64" autocomplete="off">
<label class="check"><input id="hidden" type="checkbox">Hidden network</label>
<button type="submit">Connect</button>
</form>
<script>
var $ = function (id) { return document.getElementById(id); };
var shown = 0;
function say(text, cls) { var m = $('msg'); m.textContent = text; m.className = text ? 'msg ' + cls : ''; }
function load() {
  fetch('/setup/status', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
    var sel = $('net');
    if (sel.options.length === 0) {
      sel.appendChild(new Option('Choose…', ''));
      s.networks.forEach(function (n) { sel.appendChild(new Option(n.ssid + ' (' + n.signal + ' %' + (n.security ? '' : ', open') + ')', n.ssid)); });
      sel.appendChild(new Option('Other (type its name)', ''));
    }
    if (s.last && s.last.at !== shown) {
      shown = s.last.at;
      if (s.last.ok) say('PrintBox joined "' + s.last.ssid + '". Connect this phone to that network and open http://' + s.device + '.', 'ok');
      else say('Joining "' + s.last.ssid + '" did not work: ' + s.last.message, 'err');
    }
  }).catch(function () {});
}
$('net').onchange = function () { $('ssid').value = this.value; $('psk').focus(); };
$('f').onsubmit = function (e) {
  e.preventDefault();
  var body = { ssid: $('ssid').value, psk: $('psk').value, hidden: $('hidden').checked };
  fetch('/setup/join', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    .then(function (r) { return r.json().then(function (j) { return { status: r.status, j: j }; }); })
    .then(function (r) {
      if (r.status !== 202) { say(r.j.error ? r.j.error.message : 'Something went wrong', 'err'); return; }
      say('PrintBox is joining "' + body.ssid + '". This phone will lose the setup network now. Connect it to "' + body.ssid +
        '" and open http://' + r.j.device + ' (or find PrintBox in your router\\'s device list). If the password was wrong, the setup network comes back within a minute: join it again to see why.', 'ok');
    }).catch(function () { say('PrintBox is switching networks.', 'ok'); });
};
load();
setInterval(load, 3000);
</script>
</body></html>
`;
