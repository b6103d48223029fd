/**
 * The dashboard's two pages, plain HTML with a little inline script (no build step). Nothing a user
 * typed is ever put into the HTML here: the page fetches /admin/api/state and writes every value
 * with `textContent`, and the only values the server writes in are its own random tokens.
 */

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .5rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e3e3;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f3;font-weight:600}td.prompt{max-width:28rem;overflow-wrap:anywhere}
.bar{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
.ok{color:#1a7f37}.bad{color:#c0362c}.muted{color:#6e6e73}
button{font:inherit;padding:.25rem .7rem;cursor:pointer}img.poster{max-width:96px;max-height:64px}
#message{min-height:1.2rem}`;

function layout(title: string, nonce: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>${head}<style nonce="${nonce}">${STYLE}</style></head>
<body>${body}</body></html>`;
}

export function loginPage(nonce: string, loginNonce: string, problem?: string): string {
  return layout(
    'Kinema admin: log in',
    nonce,
    `<h1>Kinema admin</h1>
<form method="post" action="/admin/login">
  <input type="hidden" name="nonce" value="${loginNonce}">
  <label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
  <button type="submit">Log in</button>
</form>
${problem ? `<p class="bad" id="problem">${problem}</p>` : ''}`,
  );
}

const SCRIPT = `
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const say = (text) => { $('message').textContent = text || ''; };
function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text === undefined || text === null ? '' : String(text);
  if (className) td.className = className;
  row.append(td);
  return td;
}
const when = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '');
const eta = (at) => (at ? Math.max(0, Math.round((at - Date.now()) / 1000)) + ' s' : '');
const minutes = (ms) => (ms === undefined ? '' : (ms / 60000).toFixed(1) + ' min');
async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    body: JSON.stringify(body || {}),
  });
  if (response.status === 401) return location.reload();
  const answer = await response.json().catch(() => ({}));
  say(answer.message);
  refresh();
}
function renderQueue(queue) {
  const body = $('queue');
  const rows = [...queue.rendering, ...queue.waiting].map((job, index) => {
    const row = document.createElement('tr');
    row.dataset.jobId = job.jobId;
    cell(row, index + 1);
    cell(row, job.requester.displayName || job.requester.platform + ':' + job.requester.userId);
    cell(row, job.place && job.place.serverId ? job.place.serverId : 'DM');
    cell(row, job.prompt, 'prompt');
    cell(row, job.model);
    cell(row, job.state === 'rendering' ? job.phase || 'starting' : job.held ? 'held (' + job.held + ')' : 'waiting', 'phase');
    cell(row, job.percent === undefined ? '' : job.percent + '%', 'percent');
    cell(row, job.state === 'rendering' ? eta(job.etaAt) : job.position ? '#' + job.position.position + ' of ' + job.position.of : '', 'eta');
    const button = document.createElement('button');
    button.textContent = 'Cancel';
    button.addEventListener('click', () => post('/admin/api/cancel', { jobId: job.jobId }));
    cell(row, '').append(button);
    return row;
  });
  body.replaceChildren(...rows);
  $('queue-empty').hidden = rows.length > 0;
}
function renderRecent(recent) {
  $('recent').replaceChildren(...recent.map((job) => {
    const row = document.createElement('tr');
    row.dataset.jobId = job.jobId;
    const poster = cell(row, '');
    if (job.outcome === 'completed') {
      const image = document.createElement('img');
      image.className = 'poster';
      image.alt = 'poster frame';
      image.src = '/admin/poster/' + encodeURIComponent(job.jobId);
      image.addEventListener('error', () => image.remove());
      poster.append(image);
    }
    cell(row, when(job.submittedAt));
    cell(row, job.requester);
    cell(row, job.prompt, 'prompt');
    cell(row, job.model);
    cell(row, job.outcome + (job.detail ? ': ' + job.detail : ''));
    cell(row, minutes(job.durationMs));
    cell(row, job.cost ? job.cost.amount.toFixed(2) + ' ' + job.cost.currency : '');
    return row;
  }));
}
function renderHealth(state) {
  const { health, paused } = state;
  const workers = $('workers');
  workers.textContent = health.online + ' worker(s) online, ' + health.healthy + ' healthy';
  workers.className = health.healthy > 0 ? 'ok' : 'bad';
  $('problems').textContent = [...health.problems, ...health.unavailableModels.map((m) => m.model + ': ' + m.reason)].join('; ');
  $('paused').textContent = paused.bot ? 'Paused by ' + paused.bot.by : 'Running';
  $('paused').className = paused.bot ? 'bad' : 'ok';
}
async function refresh() {
  try {
    const response = await fetch('/admin/api/state', { headers: { accept: 'application/json' } });
    if (response.status === 401) return location.reload();
    const state = await response.json();
    renderQueue(state.queue);
    renderRecent(state.recent);
    renderHealth(state);
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    $('updated').textContent = 'could not refresh: ' + error.message;
  }
}
$('pause').addEventListener('click', () => post('/admin/api/pause'));
$('resume').addEventListener('click', () => post('/admin/api/resume'));
refresh();
setInterval(refresh, REFRESH_MS);
`;

export function dashboardPage(nonce: string, csrf: string, refreshMs: number): string {
  return layout(
    'Kinema admin',
    nonce,
    `<div class="bar"><h1>Kinema admin</h1>
  <span id="paused"></span><button id="pause" type="button">Pause</button><button id="resume" type="button">Resume</button>
  <a href="/admin/queues/">Queues (bull-board)</a>
  <form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Log out</button></form>
</div>
<p class="bar"><span id="workers"></span><span id="problems" class="bad"></span><span id="updated" class="muted"></span></p>
<p id="message" role="status"></p>
<h2>Live queue (in the order workers take jobs)</h2>
<table><thead><tr><th>#</th><th>Requester</th><th>Server</th><th>Prompt</th><th>Model</th><th>Phase</th><th>Percent</th><th>ETA / place</th><th></th></tr></thead>
<tbody id="queue"></tbody></table><p id="queue-empty" class="muted">Nothing waiting or rendering.</p>
<h2>Recent jobs</h2>
<table><thead><tr><th>Poster</th><th>Asked at</th><th>Requester</th><th>Prompt</th><th>Model</th><th>Outcome</th><th>Duration</th><th>Est. cost</th></tr></thead>
<tbody id="recent"></tbody></table>
<script nonce="${nonce}">${SCRIPT.replace('REFRESH_MS', String(refreshMs))}</script>`,
    `<meta name="csrf-token" content="${csrf}">`,
  );
}
