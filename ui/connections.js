// Connections (docs/api.md "Connections API"): list, test, snapshots over
// time, start a pull (a backup job).
import {api} from './api.js';
import {clear, el, fmtBytes, svg, table, timeEl} from './util.js';

export const title = 'Connections';

export async function render(root) {
  const r = await api('GET', '/api/v2/connections');
  const detail = el('div', {id: 'conn-detail', 'aria-live': 'polite'});
  const rows = r.values.map((c) => {
    const test = el('button', {type: 'button', 'data-test': c.name}, 'Test');
    const snaps = el('button', {type: 'button', 'data-snapshots': c.name}, 'Snapshots');
    const pull = el('button', {type: 'button', 'data-pull': c.name}, 'Pull now');
    const result = el('span', {class: 'muted'});
    test.addEventListener('click', async () => {
      result.textContent = 'testing…';
      try {
        const t = await api('POST', `/api/v2/connections/${encodeURIComponent(c.name)}/test`);
        result.className = 'ok';
        result.textContent = `${t.status}: ${t.message}`;
      } catch (e) {
        result.className = 'error';
        result.textContent = e.message;
      }
    });
    snaps.addEventListener('click', () => showSnapshots(detail, c.name));
    pull.addEventListener('click', async () => {
      try {
        const j = await api('POST', '/api/v2/jobs', {type: 'backup', source: {type: 'connection', connectionName: c.name}});
        location.hash = `#jobs/${j.id}`;
      } catch (e) {
        result.className = 'error';
        result.textContent = e.message;
      }
    });
    const sched = c.schedule ? (c.schedule.every ? `every ${c.schedule.every}` : `cron ${c.schedule.cron}`) : 'on request';
    return el('tr', {},
      el('th', {scope: 'row'}, c.name), el('td', {}, c.type), el('td', {}, c.url || c.host || ''),
      el('td', {}, sched), el('td', {}, timeEl(c.lastScheduledRun)),
      el('td', {class: 'actions'}, test, snaps, pull, ' ', result));
  });
  root.append(el('h2', {}, 'Connections'),
    rows.length ? table(['Name', 'Type', 'Server', 'Schedule', 'Last scheduled run', 'Actions'], rows, 'Remote servers tsvault pulls from and pushes to')
      : el('p', {class: 'empty'}, 'No connections yet. Create one with POST /api/v2/connections (docs/api.md, "Connections API").'),
    detail);
}

async function showSnapshots(root, name) {
  clear(root);
  let r;
  try { r = await api('GET', `/api/v2/connections/${encodeURIComponent(name)}/snapshots`); } catch (e) {
    root.append(el('p', {class: 'error', role: 'alert'}, e.message));
    return;
  }
  const v = r.values || [];
  const heading = el('h3', {}, `Snapshots of ${name}`);
  if (!v.length) {
    root.append(heading, el('p', {class: 'empty'}, 'No snapshot yet: start a pull.'));
    return;
  }
  // Snapshots over time: one bar per snapshot, its height the bytes it added.
  const lo = Date.parse(v[0].time), hi = Date.parse(v[v.length - 1].time);
  const maxNew = Math.max(1, ...v.map((s) => s.bytesNew || 0));
  const W = 1000, H = 90;
  const g = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'timeline', role: 'img',
    'aria-label': `${v.length} snapshots from ${v[0].time} to ${v[v.length - 1].time}`});
  for (const s of v) {
    const x = 10 + ((Date.parse(s.time) - lo) / Math.max(1, hi - lo)) * (W - 30);
    const h = 8 + (70 * (s.bytesNew || 0)) / maxNew;
    g.append(svg('rect', {x, y: H - 10 - h, width: 8, height: h, class: 'shard in-use'},
      svg('title', {}, `${s.time}: ${fmtBytes(s.bytesNew)} new, ${s.shardsChanged} of ${s.shards} shards changed`)));
  }
  root.append(heading, el('div', {class: 'timeline-wrap'}, g),
    table(['#', 'Time', 'Finished', 'Pulled', 'New', 'Shards', 'Changed'], v.map((s) => el('tr', {},
      el('td', {class: 'num'}, s.id), el('td', {}, timeEl(s.time)), el('td', {}, timeEl(s.finished)),
      el('td', {class: 'num'}, fmtBytes(s.bytesPulled)), el('td', {class: 'num'}, fmtBytes(s.bytesNew)),
      el('td', {class: 'num'}, s.shards), el('td', {class: 'num'}, s.shardsChanged))), `Snapshots of ${name}, oldest first`));
}
