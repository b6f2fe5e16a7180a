// The console's only way to the server: the public HTTP API, with the token
// from sessionStorage in an Authorization header (no cookies).

const KEY = 'tsvault.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(res) {
  let code = '', message = '';
  try {
    const j = await res.json();
    code = j.code || j.error || '';
    message = j.message || j.description || '';
  } catch (_) { /* not JSON */ }
  return new ApiError(res.status, code, message || `${res.status} ${res.statusText}`);
}

export async function api(method, path, body) {
  const headers = {Authorization: 'Token ' + (token.get() || '')};
  const init = {method, headers, credentials: 'omit', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    const e = await errorOf(res);
    // "<permission> is unauthorized" is a lesser token, not a lost login.
    if (res.status === 401 && onUnauthorized && !/ is unauthorized$/.test(e.message)) onUnauthorized();
    throw e;
  }
  if (res.status === 204 || res.status === 304) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

let onUnauthorized = null;
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// Multipart upload with progress (fetch has no upload progress events).
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', 'Token ' + (token.get() || ''));
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      let j = null;
      try { j = JSON.parse(xhr.responseText); } catch (_) { /* empty */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(j);
      else reject(new ApiError(xhr.status, j && j.code, (j && j.message) || `HTTP ${xhr.status}`));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'upload failed: network error')));
    const fd = new FormData();
    fd.append('file', file, file.name);
    xhr.send(fd);
  });
}

// Polls a job until it ends; onTick gets (job, metrics) each time.
export async function watchJob(id, onTick, intervalMs = 500) {
  for (;;) {
    const job = await api('GET', `/api/v2/jobs/${encodeURIComponent(id)}`);
    let metrics = null;
    try { metrics = await api('GET', `/api/v2/jobs/${encodeURIComponent(id)}/metrics`); } catch (_) { /* optional */ }
    onTick(job, metrics);
    if (['completed', 'failed', 'canceled'].includes(job.executionStatus)) return job;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
