// The page served at `/`: a token box, a drop zone with a progress bar per file, and the
// caller's uploads with download links. All requests go through `uploader.js`.
import { upload, downloadUrl, listUploads } from '/uploader.js';

const MIB = 1024 * 1024;
const $ = (id) => document.getElementById(id);

/** What each problem code means to someone using the page. */
const MESSAGES = {
  missing_token: 'Paste a token first.',
  invalid_token: 'The token is not valid for this gateway.',
  token_expired: 'The token has expired; make a new one.',
  forbidden: 'The token does not allow this file name or action.',
  invalid_key: 'The file name cannot be used as a key.',
  payload_too_large: 'The file is larger than this token or gateway allows.',
  unsupported_media_type: 'This type of file is not allowed.',
  length_required: 'The browser did not send the file size.',
  checksum_mismatch: 'The file changed on the way; try again.',
  incomplete_body: 'The upload was cut off; try again.',
  precondition_failed: 'A file with this name already exists.',
  upload_not_found: 'The unfinished upload expired; start again.',
  url_expired: 'The upload link expired; try again.',
  url_already_used: 'The upload link was already used.',
  url_rejected: 'The storage refused the upload link (expired, or the file differs from what was signed).',
  invalid_signature: 'The upload link was changed or is not valid here.',
  storage_error: 'Storage is unavailable right now; try again shortly.',
  storage_auth_failed: 'The gateway cannot reach its storage (its credentials were refused).',
  database_error: 'The gateway could not record the upload; try again.',
  config_error: 'The gateway is misconfigured.',
  network_error: 'The connection failed.',
  aborted: 'Cancelled.',
};

const messageFor = (e) => MESSAGES[e.code] ? `${MESSAGES[e.code]} (${e.code})` : `${e.detail || e.message} (${e.code || 'error'})`;

function claims(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

const human = (n) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

function token() {
  return $('token').value.trim();
}

function onToken() {
  const t = token();
  // Kept for this tab only.
  sessionStorage.setItem('upload-gateway:token', t);
  const c = t && claims(t);
  if (!c) {
    $('who').textContent = t ? 'This does not look like a JWT.' : '';
    return;
  }
  const prefix = c.key ? c.key.replace(/[^/]*$/, '') : c.prefix ?? `${c.sub}/`;
  if (!$('prefix').dataset.edited) $('prefix').value = prefix;
  const exp = c.exp ? `, expires ${new Date(c.exp * 1000).toLocaleString()}` : '';
  $('who').textContent = `Signed in as ${c.sub}${exp}.`;
  refresh();
}

function row(file) {
  const li = document.createElement('li');
  li.className = 'item';
  li.innerHTML = `<div class="row"><span class="name"></span><span class="size"></span></div>
    <progress max="1" value="0"></progress>
    <div class="row"><span class="status" role="status">Waiting…</span><button type="button" class="cancel">Cancel</button></div>`;
  li.querySelector('.name').textContent = file.name;
  li.querySelector('.size').textContent = human(file.size);
  $('queue').prepend(li);
  return li;
}

async function send(file) {
  const li = row(file);
  const bar = li.querySelector('progress');
  const status = li.querySelector('.status');
  const cancel = li.querySelector('.cancel');
  const controller = new AbortController();
  cancel.onclick = () => controller.abort();
  const mode = $('mode').value;
  const threshold = Number($('threshold').value) * MIB;
  const started = Date.now();
  try {
    const result = await upload(file, {
      token: token(),
      key: mode === 'gateway-put' || file.size > threshold ? `${$('prefix').value}${file.name}` : undefined,
      // A presigned URL is one request; larger files go up in parts through the gateway.
      presign: file.size > threshold ? false : mode === 'presign' ? true : mode === 'presign-gateway' ? 'gateway' : false,
      multipartThreshold: threshold,
      partSize: Number($('part-size').value) * MIB,
      signal: controller.signal,
      onProgress: (loaded, total) => {
        bar.value = total ? loaded / total : 1;
        const rate = loaded / Math.max(0.001, (Date.now() - started) / 1000);
        status.textContent = `${Math.round(bar.value * 100)}% · ${human(rate)}/s`;
      },
    });
    bar.value = 1;
    li.classList.add('done');
    status.textContent = `Stored as ${result.key}`;
    refresh();
  } catch (e) {
    li.classList.add('failed');
    status.textContent = messageFor(e);
  } finally {
    cancel.remove();
  }
}

function addFiles(list) {
  if (!token()) {
    $('who').textContent = MESSAGES.missing_token;
    $('token').focus();
    return;
  }
  for (const file of list) send(file);
}

async function refresh() {
  const status = $('list-status');
  if (!token()) return;
  try {
    const { items } = await listUploads({ token: token() });
    const ul = $('uploads');
    ul.replaceChildren();
    status.textContent = items.length ? '' : 'Nothing uploaded yet.';
    for (const item of items) {
      const li = document.createElement('li');
      const link = document.createElement('a');
      const name = item.key.split('/').pop();
      link.href = '#';
      link.textContent = item.key;
      link.onclick = async (ev) => {
        ev.preventDefault();
        try {
          window.location.href = await downloadUrl(item.key, { token: token(), filename: name });
        } catch (e) {
          status.textContent = messageFor(e);
        }
      };
      const meta = document.createElement('span');
      meta.className = 'size';
      meta.textContent = `${human(item.size)} · ${item.content_type}`;
      li.append(link, meta);
      ul.append(li);
    }
  } catch (e) {
    status.textContent = e.code === 'forbidden' ? 'The token cannot list uploads (it needs the list scope).' : messageFor(e);
  }
}

$('token').value = sessionStorage.getItem('upload-gateway:token') || '';
$('token').addEventListener('input', onToken);
$('prefix').addEventListener('input', () => { $('prefix').dataset.edited = '1'; });
$('files').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
$('refresh').addEventListener('click', refresh);
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer.files); });
onToken();
