// Files: staged backup archives (docs/api.md "Files API"): upload with a
// progress bar (file picker or drag and drop), list with space used, restore
// a backup as a job, delete.
import {api, upload} from './api.js';
import {announce, clear, confirmDialog, el, fmtBytes, progressBar, table, timeEl} from './util.js';

export const title = 'Files';

export async function render(root) {
  const list = el('div', {id: 'files-list'});
  const bar = el('div', {id: 'upload-progress', 'aria-live': 'polite'});
  const input = el('input', {type: 'file', id: 'file-input'});
  const drop = el('div', {id: 'drop-zone', class: 'drop', tabindex: 0, role: 'button',
      'aria-describedby': 'drop-hint'},
    el('p', {id: 'drop-hint'}, 'Drop a backup archive here, or press Enter to choose a file ',
      '(influx backup or influxd backup -portable as tar, tar.gz, tar.zst or zip).'));

  const start = async (file) => {
    if (!file) return;
    clear(bar).append(el('p', {}, `Uploading ${file.name}: `, progressBar(0, `upload of ${file.name}`)));
    const setPct = (loaded, total) => {
      const pct = total ? (100 * loaded) / total : 0;
      clear(bar).append(el('p', {}, `Uploading ${file.name} (${fmtBytes(loaded)} of ${fmtBytes(total)}): `,
        progressBar(pct, `upload of ${file.name}`)));
    };
    try {
      const f = await upload('/api/v2/files', file, setPct);
      clear(bar).append(el('p', {class: 'ok', 'data-upload': 'done'},
        `Uploaded ${f.name}: ${f.dataFormat}, ${fmtBytes(f.sizeBytes)} `, progressBar(100, `upload of ${file.name}`)));
      announce(`Uploaded ${f.name}`);
    } catch (e) {
      clear(bar).append(el('p', {class: 'error', role: 'alert'}, `Upload of ${file.name} failed: ${e.message}`));
    }
    input.value = '';
    await refresh();
  };
  input.addEventListener('change', () => start(input.files[0]));
  drop.addEventListener('click', () => input.click());
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); }
  });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files.length) start(e.dataTransfer.files[0]);
  });

  const refresh = async () => {
    const r = await api('GET', '/api/v2/files');
    const sp = r.space || {};
    const used = sp.allocatedBytes ? (100 * sp.usedBytes) / sp.allocatedBytes : 0;
    const rows = r.files.map((f) => {
      const restore = el('button', {type: 'button', 'data-restore': f.name,
        disabled: !['influx-backup', 'influxdb1-portable'].includes(f.dataFormat)}, 'Restore…');
      restore.addEventListener('click', () => restoreFile(f));
      const del = el('button', {type: 'button', class: 'danger', 'data-delete': f.name}, 'Delete');
      del.addEventListener('click', async () => {
        if (!(await confirmDialog(`Delete ${f.name}?`, 'The staged file is removed; restored data is not touched.', 'Delete'))) return;
        try {
          await api('DELETE', `/api/v2/files/${encodeURIComponent(f.name)}`);
          announce(`Deleted ${f.name}`);
        } catch (e) { announce(`Delete failed: ${e.message}`, 'error'); }
        refresh();
      });
      return el('tr', {},
        el('th', {scope: 'row'}, f.name), el('td', {}, f.dataFormat), el('td', {}, f.compressionFormat),
        el('td', {class: 'num'}, fmtBytes(f.sizeBytes)), el('td', {}, timeEl(f.uploadedOnDatetime)),
        el('td', {class: 'mono', title: 'SHA-256'}, (f.sha256 || '').slice(0, 12) + '…'),
        el('td', {class: 'actions'}, restore, del));
    });
    clear(list).append(
      el('p', {}, `Space: ${fmtBytes(sp.usedBytes)} used of ${fmtBytes(sp.allocatedBytes)} `,
        `(${fmtBytes(sp.remainingBytes)} free) `, progressBar(used, 'space used')),
      rows.length ? table(['Name', 'Format', 'Compression', 'Size', 'Uploaded', 'SHA-256', 'Actions'], rows, 'Staged files')
        : el('p', {class: 'empty'}, 'No staged files yet.'));
  };

  root.append(el('h2', {}, 'Files'),
    el('section', {class: 'card', 'aria-labelledby': 'up-h'},
      el('h3', {id: 'up-h'}, 'Upload'),
      el('label', {for: 'file-input'}, 'Backup archive'), input, drop, bar),
    el('section', {'aria-labelledby': 'list-h'}, el('h3', {id: 'list-h'}, 'Staged files'), list));
  await refresh();
}

async function restoreFile(f) {
  const bucket = el('input', {id: 'rs-bucket', type: 'text', placeholder: 'all buckets'});
  const newName = el('input', {id: 'rs-new', type: 'text', placeholder: 'keep the name'});
  const body = el('div', {},
    el('p', {}, `Restore ${f.name} (${f.dataFormat}) into this server as new buckets. `,
      'A bucket name that exists already makes the job fail and nothing is kept.'),
    el('label', {for: 'rs-bucket'}, 'Only this bucket (optional)'), bucket,
    el('label', {for: 'rs-new'}, 'New bucket name (optional, needs a bucket)'), newName);
  if (!(await confirmDialog(`Restore ${f.name}`, body, 'Start restore'))) return;
  const target = {type: 'bucket'};
  if (bucket.value.trim()) target.bucketName = bucket.value.trim();
  if (newName.value.trim()) target.newBucketName = newName.value.trim();
  try {
    const job = await api('POST', '/api/v2/jobs',
      {type: 'restore', source: {type: 'file', fileName: f.name}, target});
    location.hash = `#jobs/${job.id}`;
  } catch (e) {
    announce(`Restore not started: ${e.message}`, 'error');
  }
}
