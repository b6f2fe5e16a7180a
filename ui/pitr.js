// Point in time: the restorable range as a timeline (GET /api/v2/pitr), a
// moment picked on it (slider, keyboard-operable, or typed), what a restore
// to it would change (GET /api/v2/pitr/preview), confirm, and the job watched
// to its end (POST /api/v2/pitr/restore, then the Jobs API).
import {api, watchJob} from './api.js';
import {announce, clear, confirmDialog, el, fmtBytes, parseTime, progressBar, table, timeEl} from './util.js';

export const title = 'Point in time';

export async function render(root) {
  const range = await api('GET', '/api/v2/pitr');
  const lo = Date.parse(range.start_time), hi = Date.parse(range.end_time);
  const slider = el('input', {id: 'pitr-slider', type: 'range', min: 0, max: 1000, step: 1, value: 1000,
    'aria-label': 'Moment within the restorable range', 'aria-describedby': 'pitr-range'});
  const moment = el('input', {id: 'pitr-time', type: 'text', value: new Date(hi).toISOString(),
    'aria-describedby': 'pitr-local'});
  const local = el('p', {id: 'pitr-local', class: 'muted', 'aria-live': 'polite'});
  const preview = el('div', {id: 'pitr-preview', 'aria-live': 'polite'});
  const jobOut = el('div', {id: 'pitr-job', 'aria-live': 'polite'});
  const go = el('button', {type: 'button', id: 'pitr-restore', class: 'danger', disabled: true}, 'Restore to this moment…');
  const show = el('button', {type: 'button', id: 'pitr-preview-btn'}, 'Show what would change');
  const events = el('div', {id: 'pitr-events'});

  const fromSlider = () => {
    const ms = lo + ((hi - lo) * Number(slider.value)) / 1000;
    moment.value = new Date(ms).toISOString();
    updateLocal();
  };
  const updateLocal = () => {
    const d = parseTime(moment.value);
    local.textContent = d ? `In your time zone: ${d.toLocaleString()}` : 'Not a time: use RFC 3339, e.g. 2026-12-05T14:50:00Z';
    slider.setAttribute('aria-valuetext', d ? d.toLocaleString() : moment.value);
    go.disabled = true;
    clear(preview);
  };
  slider.addEventListener('input', fromSlider);
  moment.addEventListener('input', () => {
    const d = parseTime(moment.value);
    if (d) slider.value = Math.round((1000 * (d - lo)) / Math.max(1, hi - lo));
    updateLocal();
  });

  show.addEventListener('click', async () => {
    const d = parseTime(moment.value);
    if (!d) return updateLocal();
    let p;
    try {
      p = await api('GET', `/api/v2/pitr/preview?target_time=${encodeURIComponent(d.toISOString())}`);
    } catch (e) {
      clear(preview).append(el('p', {class: 'error', role: 'alert'}, e.message));
      return;
    }
    const bRows = p.buckets.map((b) => el('tr', {'data-change': b.change},
      el('th', {scope: 'row'}, b.bucketName || b.bucketID), el('td', {}, el('span', {class: `badge ${b.change}`}, b.change)),
      el('td', {class: 'num'}, b.shardsNow), el('td', {class: 'num'}, b.shardsThen),
      el('td', {class: 'num'}, b.shardsAdded), el('td', {class: 'num'}, b.shardsRemoved), el('td', {class: 'num'}, b.shardsChanged)));
    const sRows = p.shards.map((s) => el('tr', {'data-change': s.change},
      el('td', {}, s.bucketName || s.bucketID), el('td', {class: 'num'}, s.shardID), el('td', {}, s.retentionPolicy),
      el('td', {}, timeEl(s.start)), el('td', {}, timeEl(s.end)),
      el('td', {}, el('span', {class: `badge ${s.change}`}, s.change)),
      el('td', {class: 'num'}, s.versionNow ?? '—'), el('td', {class: 'num'}, s.versionThen ?? '—'),
      el('td', {class: 'num'}, fmtBytes(s.sizeNow)), el('td', {class: 'num'}, fmtBytes(s.sizeThen))));
    clear(preview).append(
      el('p', {id: 'pitr-summary'}, `Restoring to `, timeEl(p.target_time), `: ${p.buckets.length} bucket(s) and ${p.shards.length} shard(s) change, ${p.shardsUnchanged} shard(s) stay as they are. `,
        'Tokens, users and bucket settings go back too (the KV is rewound); buckets that never held a shard are not listed.'),
      bRows.length ? table(['Bucket', 'Change', 'Shards now', 'Shards then', 'Added back', 'Removed', 'Other version'], bRows, 'Buckets that change') : el('p', {class: 'empty'}, 'No bucket changes.'),
      sRows.length ? table(['Bucket', 'Shard', 'RP', 'Start', 'End', 'Change', 'Version now', 'Version then', 'Size now', 'Size then'], sRows, 'Shards that change') : null);
    go.disabled = false;
  });

  go.addEventListener('click', async () => {
    const d = parseTime(moment.value);
    if (!d) return;
    const ok = await confirmDialog('Restore the whole server?',
      el('p', {}, 'Every org, bucket, token and shard goes back to ', timeEl(d.toISOString()),
        '. What is replaced is kept (soft-deleted and in the change log): a later restore can undo this one.'),
      'Restore');
    if (!ok) return;
    let r;
    try { r = await api('POST', '/api/v2/pitr/restore', {target_time: d.toISOString()}); } catch (e) {
      clear(jobOut).append(el('p', {class: 'error', role: 'alert'}, e.message));
      return;
    }
    const state = el('span', {class: 'badge', id: 'pitr-job-status'}, r.status);
    const bar = el('span', {});
    clear(jobOut).append(el('p', {}, 'PITR job ', el('a', {href: `#jobs/${r.jobId}`}, r.jobId), ': ', state, ' ', bar));
    go.disabled = true;
    const end = await watchJob(r.jobId, (j, m) => {
      state.textContent = j.executionStatus;
      state.className = `badge ${j.executionStatus}`;
      clear(bar).append(progressBar(j.executionStatus === 'completed' ? 100 : (m && m.totals ? m.totals.percentDone : 0), 'PITR progress'));
    });
    const s = await api('GET', `/api/v2/pitr/restore/${encodeURIComponent(r.jobId)}`);
    jobOut.append(el('p', {id: 'pitr-outcome', class: s.status === 'done' ? 'ok' : 'error', 'data-status': s.status},
      `Point-in-time restore ${s.status}${s.description ? ': ' + s.description : ''} (job ${end.executionStatus}).`));
    announce(`Point-in-time restore ${s.status}`);
  });

  // Jobs that changed data, as marks under the range: help to pick a moment.
  try {
    const js = await api('GET', '/api/v2/jobs?paginationLimit=50&executionStatus=completed');
    const inRange = js.values.filter((j) => {
      const t = Date.parse(j.completedTimestamp || j.createdTimestamp);
      return t >= lo && t <= hi;
    });
    if (inRange.length) {
      const list = el('ul', {class: 'events'}, inRange.map((j) => {
        const at = j.completedTimestamp || j.createdTimestamp;
        const b = el('button', {type: 'button', class: 'small'}, 'Just before');
        b.addEventListener('click', () => {
          moment.value = new Date(Date.parse(j.createdTimestamp) - 1).toISOString();
          moment.dispatchEvent(new Event('input'));
        });
        return el('li', {'data-job-type': j.type}, timeEl(at), ` ${j.type} `, el('a', {href: `#jobs/${j.id}`}, j.id.slice(0, 8)), ' ', b);
      }));
      events.append(el('h3', {}, 'Completed jobs in the range'), list);
    }
  } catch (_) { /* optional */ }

  root.append(el('h2', {}, 'Point in time'),
    el('section', {class: 'card', 'aria-labelledby': 'pr-h'},
      el('h3', {id: 'pr-h'}, 'Restorable range'),
      el('p', {id: 'pitr-range'}, timeEl(range.start_time), ' – ', timeEl(range.end_time)),
      el('div', {class: 'range-track'}, el('span', {}, timeEl(range.start_time)), slider, el('span', {}, timeEl(range.end_time))),
      el('label', {for: 'pitr-time'}, 'Moment (RFC 3339)'), moment, local,
      el('div', {class: 'actions'}, show, go)),
    preview, jobOut, events);
  fromSlider();
}
