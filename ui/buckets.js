// Buckets: per bucket its shards on a time axis, in use (GET .../stats) and
// soft-deleted versions (GET .../unusedShards), sizes; an interval can be
// soft-deleted (delete_data job) or brought back (restore_data job), with the
// version rule's refusals listed plainly.
import {api, watchJob} from './api.js';
import {announce, clear, confirmDialog, el, fmtBytes, parseTime, progressBar, svg, table, timeEl} from './util.js';

export const title = 'Buckets';

export async function render(root, args) {
  const r = await api('GET', '/api/v2/buckets?limit=100');
  const bs = (r.buckets || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const detail = el('div', {id: 'bucket-detail'});
  const rows = await Promise.all(bs.map(async (b) => {
    let st = null, un = null;
    try { st = await api('GET', `/api/v2/buckets/${b.id}/stats`); } catch (_) { /* no permission */ }
    try { un = await api('GET', `/api/v2/buckets/${b.id}/unusedShards`); } catch (_) { /* operator only */ }
    const soft = un ? un.unusedShards : [];
    return el('tr', {'data-bucket': b.name},
      el('th', {scope: 'row'}, el('a', {href: `#buckets/${b.id}`}, b.name)),
      el('td', {class: 'mono'}, b.id),
      el('td', {class: 'num'}, st ? st.shardCount : '—'),
      el('td', {class: 'num'}, st ? fmtBytes(st.tsmBytes) : '—'),
      el('td', {class: 'num'}, un ? soft.length : '—'),
      el('td', {class: 'num'}, un ? fmtBytes(soft.reduce((s, v) => s + v.size, 0)) : '—'),
      el('td', {}, st && st.minTime ? timeEl(st.minTime) : '—'),
      el('td', {}, st && st.maxTime ? timeEl(st.maxTime) : '—'));
  }));
  root.append(el('h2', {}, 'Buckets'),
    table(['Bucket', 'ID', 'Shards in use', 'Size', 'Soft-deleted versions', 'Their size', 'Oldest point', 'Newest point'],
      rows, 'Buckets: open one to see its shards on a time axis'),
    detail);
  if (args[0]) {
    const b = bs.find((x) => x.id === args[0]);
    if (b) await renderBucket(detail, b);
    else detail.append(el('p', {class: 'error'}, `Bucket ${args[0]} not found.`));
  }
}

async function renderBucket(root, b) {
  const st = await api('GET', `/api/v2/buckets/${b.id}/stats`);
  const startIn = el('input', {id: 'iv-start', type: 'text', required: true, placeholder: '2024-01-01T00:00:00Z',
    'aria-describedby': 'iv-help'});
  const endIn = el('input', {id: 'iv-end', type: 'text', required: true, placeholder: '2024-01-08T00:00:00Z',
    'aria-describedby': 'iv-help'});
  const versionIn = el('input', {id: 'iv-version', type: 'number', min: 1, placeholder: 'latest'});
  const localView = el('p', {id: 'iv-local', class: 'muted', 'aria-live': 'polite'});
  const showLocal = () => {
    const a = parseTime(startIn.value), z = parseTime(endIn.value);
    localView.textContent = a && z ? `In your time zone: ${a.toLocaleString()} – ${z.toLocaleString()}` : '';
  };
  startIn.addEventListener('input', showLocal);
  endIn.addEventListener('input', showLocal);
  const pick = (s) => {
    startIn.value = s.start;
    endIn.value = s.end;
    versionIn.value = s.version || '';
    showLocal();
    announce(`Interval ${s.start} – ${s.end} selected`);
    startIn.focus();
  };
  const out = el('div', {id: 'vault-result', 'aria-live': 'polite'});

  const run = async (type) => {
    const a = parseTime(startIn.value), z = parseTime(endIn.value);
    if (!a || !z || a >= z) {
      clear(out).append(el('p', {class: 'error', role: 'alert'}, 'Give a start before the end (RFC 3339, e.g. 2024-01-01T00:00:00Z).'));
      return;
    }
    const iv = `${a.toISOString()}/${z.toISOString()}`;
    const spec = type === 'delete_data'
      ? {type, target: {type: 'bucket', bucketID: b.id, intervals: [iv]}}
      : {type, target: {type: 'bucket', bucketID: b.id}, interval: iv};
    if (type === 'restore_data' && versionIn.value) spec.version = Number(versionIn.value);
    const what = type === 'delete_data'
      ? `Soft-delete ${iv} of ${b.name}? Shards wholly inside are soft-deleted, partly inside get tombstones; everything stays restorable until the soft-delete retention ends.`
      : `Bring back the soft-deleted versions of ${iv} in ${b.name}? A slot whose in-use version is newer (and not a delete of it) is refused.`;
    if (!(await confirmDialog(type === 'delete_data' ? 'Soft-delete interval' : 'Restore interval', what,
      type === 'delete_data' ? 'Soft-delete' : 'Restore'))) return;
    let job;
    try { job = await api('POST', '/api/v2/jobs', spec); } catch (e) {
      clear(out).append(el('p', {class: 'error', role: 'alert'}, `Refused: ${e.message}`));
      return;
    }
    const status = el('p', {}, `Job `, el('a', {href: `#jobs/${job.id}`}, job.id), ': ');
    const state = el('span', {class: 'badge'}, job.executionStatus);
    const bar = el('span', {});
    status.append(state, ' ', bar);
    clear(out).append(status);
    const end = await watchJob(job.id, (j, m) => {
      state.textContent = j.executionStatus;
      state.className = `badge ${j.executionStatus}`;
      clear(bar).append(progressBar(j.executionStatus === 'completed' ? 100 : (m && m.totals ? m.totals.percentDone : 0), 'job progress'));
    });
    const logs = (await api('GET', `/api/v2/jobs/${job.id}/logs`)).logs || [];
    const refusals = logs.filter((l) => /refused/.test(l.message) && !/ 0 refused/.test(l.message));
    const summary = logs.filter((l) => /shards changed/.test(l.message)).map((l) => l.message);
    out.append(el('p', {id: 'vault-outcome', class: end.executionStatus === 'completed' ? 'ok' : 'error', 'data-status': end.executionStatus},
      `${type} ${end.executionStatus}${end.health && end.health.message ? ': ' + end.health.message : ''}`,
      summary.length ? ` (${summary.join('; ')})` : ''));
    if (refusals.length) {
      out.append(el('h4', {}, 'Refused by the version rule'),
        el('ul', {id: 'vault-refusals', class: 'refusals'}, refusals.map((l) => el('li', {}, l.message))));
    }
    await redraw();
  };
  const del = el('button', {type: 'button', class: 'danger', id: 'iv-delete'}, 'Soft-delete interval');
  const res = el('button', {type: 'button', id: 'iv-restore'}, 'Restore interval');
  del.addEventListener('click', () => run('delete_data'));
  res.addEventListener('click', () => run('restore_data'));

  const axis = el('div', {id: 'bucket-axis'});
  const shardTable = el('div', {id: 'bucket-shards'});
  const redraw = async () => {
    const [st2, un2] = await Promise.all([
      api('GET', `/api/v2/buckets/${b.id}/stats`),
      api('GET', `/api/v2/buckets/${b.id}/unusedShards`).catch(() => ({unusedShards: []})),
    ]);
    const all = [
      ...(st2.shards || []).map((s) => ({state: 'in use', id: s.id, rp: s.retentionPolicy, start: s.startTime,
        end: s.endTime, size: s.tsmBytes, version: null, note: s.state})),
      ...(un2.unusedShards || []).map((s) => ({state: 'soft-deleted', id: s.shardID, rp: s.retentionPolicy,
        start: s.start, end: s.end, size: s.size, version: s.version, by: s.softDeletedBy, at: s.softDeletedAt,
        purge: s.purgeDueAt}))];
    clear(axis).append(timeline(all, pick));
    clear(shardTable).append(all.length ? table(['Shard', 'RP', 'Start', 'End', 'State', 'Version', 'Size', 'Soft-deleted', ''],
      all.map((s) => {
        const btn = el('button', {type: 'button', class: 'small'}, 'Select interval');
        btn.addEventListener('click', () => pick(s));
        return el('tr', {'data-state': s.state, 'data-shard': s.id},
          el('td', {class: 'num'}, s.id), el('td', {}, s.rp), el('td', {}, timeEl(s.start)), el('td', {}, timeEl(s.end)),
          el('td', {}, el('span', {class: `badge ${s.state === 'in use' ? 'ok' : 'soft'}`}, s.state)),
          el('td', {class: 'num'}, s.version || ''), el('td', {class: 'num'}, fmtBytes(s.size)),
          el('td', {}, s.at ? [timeEl(s.at), ` by ${s.by}`] : ''),
          el('td', {}, btn));
      }), `Shards of ${b.name}`) : el('p', {class: 'empty'}, 'This bucket has no shards.'));
  };

  root.append(el('section', {class: 'card', 'aria-labelledby': 'bd-h'},
    el('h3', {id: 'bd-h'}, `Bucket ${b.name}`),
    el('p', {class: 'muted'}, `ID ${b.id} · ${st.shardCount} shards in use · ${fmtBytes(st.tsmBytes)}`),
    axis,
    el('form', {class: 'interval', onsubmit: (e) => e.preventDefault()},
      el('p', {id: 'iv-help', class: 'hint'}, 'Interval in RFC 3339 (UTC "Z" or with an offset); choose a shard on the axis or in the table to fill it.'),
      el('div', {class: 'row'},
        el('span', {}, el('label', {for: 'iv-start'}, 'Start'), startIn),
        el('span', {}, el('label', {for: 'iv-end'}, 'End'), endIn),
        el('span', {}, el('label', {for: 'iv-version'}, 'Version (restore only)'), versionIn)),
      localView,
      el('div', {class: 'actions'}, del, res)),
    out, shardTable));
  await redraw();
}

// Shards on a time axis: in-use versions on the first row, soft-deleted ones
// below (one row per version depth). Each shard is focusable; Enter or a
// click selects its interval.
function timeline(shards, pick) {
  if (!shards.length) return el('p', {class: 'empty'}, 'No shards to show.');
  const t = (s) => Date.parse(s);
  const lo = Math.min(...shards.map((s) => t(s.start))), hi = Math.max(...shards.map((s) => t(s.end)));
  const W = 1000, rowH = 26, left = 100;
  const depth = {};
  const rowOf = (s) => {
    if (s.state === 'in use') return 0;
    const k = `${s.rp}|${s.start}`;
    depth[k] = (depth[k] || 0) + 1;
    return depth[k];
  };
  const placed = shards.map((s) => ({s, row: rowOf(s)}));
  const rows = Math.max(1, ...placed.map((p) => p.row + 1));
  const H = rows * rowH + 30;
  const x = (ms) => left + ((ms - lo) / Math.max(1, hi - lo)) * (W - left - 10);
  const g = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'timeline', role: 'group',
    'aria-label': `Shards on a time axis from ${new Date(lo).toISOString()} to ${new Date(hi).toISOString()}`});
  for (let r = 0; r < rows; r++) {
    g.append(svg('text', {x: 4, y: r * rowH + 17, class: 'axis-label'}, r === 0 ? 'in use' : `soft-deleted ${r}`));
  }
  for (const {s, row} of placed) {
    const x0 = x(t(s.start)), x1 = x(t(s.end));
    const label = `shard ${s.id} ${s.rp}, ${new Date(s.start).toLocaleString()} – ${new Date(s.end).toLocaleString()}, ${s.state}${s.version ? ' version ' + s.version : ''}, ${fmtBytes(s.size)}`;
    const rect = svg('rect', {x: x0 + 1, y: row * rowH + 3, width: Math.max(3, x1 - x0 - 2), height: rowH - 6,
      rx: 3, class: s.state === 'in use' ? 'shard in-use' : 'shard soft', tabindex: 0, role: 'button',
      'aria-label': label, 'data-shard': s.id},
    svg('title', {}, `${label}\nUTC ${s.start} – ${s.end}`));
    rect.addEventListener('click', () => pick(s));
    rect.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(s); }
    });
    g.append(rect);
  }
  const ticks = 4;
  for (let i = 0; i <= ticks; i++) {
    const ms = lo + ((hi - lo) * i) / ticks;
    const d = new Date(ms);
    g.append(svg('text', {x: x(ms), y: H - 8, class: 'axis-label', 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle'},
      d.toLocaleDateString(undefined, {month: 'short', day: 'numeric', year: 'numeric'}),
      svg('title', {}, d.toISOString())));
  }
  return el('div', {class: 'timeline-wrap'}, g);
}
