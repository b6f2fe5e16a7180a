// Jobs (docs/api.md "Jobs API"): the list with the API's filters and paging,
// and one job's live progress (bytes, shards, rate, ETA), logs and cancel.
import {api} from './api.js';
import {announce, clear, confirmDialog, el, fmtBytes, fmtDuration, progressBar, table, timeEl} from './util.js';

export const title = 'Jobs';

const STATUSES = ['pending', 'running', 'completed', 'failed', 'canceled'];
const TYPES = ['restore', 'backup', 'delete_data', 'restore_data', 'verify', 'pitr'];
const LIMIT = 20;

export function targetOf(j) {
  const t = j.target || {};
  return t.tableName || t.bucketName || t.bucketID || t.connectionName ||
    (j.spec && j.spec.target_time ? `moment ${j.spec.target_time}` : '') || t.type || '';
}

export async function render(root, args) {
  if (args[0]) return renderJob(root, args[0]);
  let offset = 0;
  let timer = null;
  const status = el('fieldset', {class: 'inline'}, el('legend', {}, 'Status'),
    STATUSES.map((s) => el('label', {}, el('input', {type: 'checkbox', name: 'status', value: s}), ' ', s)));
  const type = el('select', {id: 'f-type'}, el('option', {value: ''}, 'any'),
    TYPES.map((t) => el('option', {value: t}, t)));
  const search = el('input', {id: 'f-search', type: 'search', placeholder: 'name, ID, file…'});
  const sort = el('select', {id: 'f-sort'},
    [['last_updated_date_time', 'last update'], ['created_date_time', 'created'], ['execution_status', 'status'],
      ['type', 'type'], ['target_table_name', 'target bucket']].map(([v, l]) => el('option', {value: v}, l)));
  const list = el('div', {id: 'jobs-list', 'aria-live': 'polite'});
  const prev = el('button', {type: 'button'}, '← Newer');
  const next = el('button', {type: 'button'}, 'Older →');
  const pageInfo = el('span', {class: 'muted'});

  const load = async () => {
    const q = new URLSearchParams({paginationLimit: LIMIT, paginationOffset: offset, sortColumn: sort.value});
    for (const c of status.querySelectorAll('input:checked')) q.append('executionStatus', c.value);
    if (type.value) q.append('type', type.value);
    if (search.value.trim()) q.append('searchString', search.value.trim());
    let r;
    try { r = await api('GET', `/api/v2/jobs?${q}`); } catch (e) {
      clear(list).append(el('p', {class: 'error', role: 'alert'}, e.message));
      return;
    }
    const running = [];
    const rows = await Promise.all(r.values.map(async (j) => {
      let bar = el('span', {class: 'muted'}, '');
      if (j.executionStatus === 'running' || j.executionStatus === 'completed') {
        running.push(j.id);
        try {
          const m = (await api('GET', `/api/v2/jobs/${j.id}/metrics`)).totals || {};
          bar = progressBar(j.executionStatus === 'completed' ? 100 : m.percentDone, `progress of job ${j.id}`);
        } catch (_) { /* metrics optional */ }
      }
      return el('tr', {'data-job': j.id, 'data-status': j.executionStatus},
        el('td', {}, el('a', {href: `#jobs/${j.id}`}, j.type)),
        el('td', {}, targetOf(j)),
        el('td', {}, el('span', {class: `badge ${j.executionStatus}`}, j.executionStatus),
          j.health && j.health.status !== 'ok' ? el('span', {class: `badge ${j.health.status}`}, j.health.status) : null),
        el('td', {}, bar),
        el('td', {}, timeEl(j.createdTimestamp)),
        el('td', {}, (j.createdBy && j.createdBy.username) || ''));
    }));
    clear(list).append(rows.length
      ? table(['Type', 'Target', 'Status', 'Progress', 'Created', 'By'], rows, 'Jobs')
      : el('p', {class: 'empty'}, 'No jobs match.'));
    prev.disabled = offset === 0;
    next.disabled = !r.moreResultsAvailable;
    pageInfo.textContent = `${offset + 1}–${offset + r.values.length}`;
  };
  const reload = () => { offset = 0; load(); };
  for (const c of [type, sort]) c.addEventListener('change', reload);
  status.addEventListener('change', reload);
  search.addEventListener('input', reload);
  prev.addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); load(); });
  next.addEventListener('click', () => { offset += LIMIT; load(); });

  root.append(el('h2', {}, 'Jobs'),
    el('form', {class: 'filters card', role: 'search', onsubmit: (e) => e.preventDefault()},
      status,
      el('label', {for: 'f-type'}, 'Type'), type,
      el('label', {for: 'f-search'}, 'Search'), search,
      el('label', {for: 'f-sort'}, 'Sort by'), sort),
    list,
    el('nav', {class: 'pager', 'aria-label': 'Pages'}, prev, pageInfo, next));
  await load();
  // Live: the list refreshes every 2 s while the page is shown.
  timer = setInterval(() => { if (!document.hidden) load(); }, 2000);
  return () => clearInterval(timer);
}

async function renderJob(root, id) {
  let stop = false;
  const head = el('div', {id: 'job-head'});
  const prog = el('div', {id: 'job-progress', class: 'card'});
  const logs = el('div', {id: 'job-logs'});
  const cancel = el('button', {type: 'button', class: 'danger', id: 'job-cancel', hidden: true}, 'Cancel job');
  cancel.addEventListener('click', async () => {
    if (!(await confirmDialog('Cancel this job?', 'A running restore stops before its next archive member and what it created is removed.', 'Cancel job'))) return;
    try {
      await api('PATCH', `/api/v2/jobs/${encodeURIComponent(id)}`, {desiredExecutionStatus: 'canceled'});
      announce('Cancel requested');
    } catch (e) { announce(`Cancel failed: ${e.message}`, 'error'); }
  });
  root.append(el('p', {}, el('a', {href: '#jobs'}, '← All jobs')), el('h2', {}, 'Job'), head, cancel, prog,
    el('h3', {}, 'Logs'), logs);

  const tick = async () => {
    const job = await api('GET', `/api/v2/jobs/${encodeURIComponent(id)}`);
    let m = {};
    try { m = (await api('GET', `/api/v2/jobs/${encodeURIComponent(id)}/metrics`)).totals || {}; } catch (_) { /* none */ }
    const lg = await api('GET', `/api/v2/jobs/${encodeURIComponent(id)}/logs`);
    const done = ['completed', 'failed', 'canceled'].includes(job.executionStatus);
    clear(head).append(el('dl', {class: 'facts'},
      el('dt', {}, 'ID'), el('dd', {class: 'mono'}, job.id),
      el('dt', {}, 'Type'), el('dd', {}, job.type),
      el('dt', {}, 'Target'), el('dd', {}, targetOf(job)),
      el('dt', {}, 'Status'), el('dd', {}, el('span', {class: `badge ${job.executionStatus}`, id: 'job-status'}, job.executionStatus)),
      el('dt', {}, 'Health'), el('dd', {id: 'job-health'}, job.health ? `${job.health.status}${job.health.message ? ': ' + job.health.message : ''}` : ''),
      el('dt', {}, 'Created'), el('dd', {}, timeEl(job.createdTimestamp)),
      el('dt', {}, 'Completed'), el('dd', {}, timeEl(job.completedTimestamp))));
    cancel.hidden = done;
    const pct = job.executionStatus === 'completed' ? 100 : m.percentDone;
    clear(prog).append(progressBar(pct, 'job progress'),
      el('p', {}, `Bytes ${fmtBytes(m.bytesDone)} of ${fmtBytes(m.bytesTotal)} · `,
        `shards ${m.shardsDone ?? '—'} of ${m.shardsTotal ?? '—'} · `,
        `rate ${m.bytesPerSecond !== undefined ? fmtBytes(m.bytesPerSecond) + '/s' : '—'} · `,
        `ETA ${m.etaSeconds === null || m.etaSeconds === undefined ? '—' : fmtDuration(m.etaSeconds)} · `,
        `elapsed ${fmtDuration(m.elapsedSeconds)}`));
    const rows = (lg.logs || []).map((l) => el('tr', {class: `log-${l.level}`},
      el('td', {}, timeEl(l.timestamp)), el('td', {}, l.level), el('td', {class: 'msg'}, l.message)));
    clear(logs).append(table(['Time', 'Level', 'Message'], rows, 'Log entries, oldest first'));
    return done;
  };
  const loop = async () => {
    while (!stop) {
      let done = false;
      try { done = await tick(); } catch (e) {
        clear(head).append(el('p', {class: 'error', role: 'alert'}, e.message));
        return;
      }
      if (done) return;
      await new Promise((r) => setTimeout(r, 700));
    }
  };
  await tick().then((done) => { if (!done) loop(); });
  return () => { stop = true; };
}
