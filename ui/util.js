// Small DOM and formatting helpers. Everything the console shows goes through
// el()/text nodes: no HTML string is ever parsed, so server data cannot inject
// markup (docs/console.md "Security").

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.setAttribute('class', v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'max') e[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// Times: the browser's zone on screen, UTC (RFC 3339) on hover and for
// screen readers through the <time datetime> attribute.
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

export function timeEl(iso) {
  if (!iso) return el('span', {}, '—');
  const d = new Date(iso);
  const utc = isNaN(d) ? String(iso) : d.toISOString();
  return el('time', {datetime: utc, title: utc + ' (UTC)'}, fmtTime(iso));
}

export function fmtBytes(n) {
  if (n === null || n === undefined || isNaN(n)) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0, v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(v < 10 ? 2 : 1) : String(v)) + ' ' + u[i];
}

export function fmtDuration(s) {
  if (s === null || s === undefined || isNaN(s)) return '—';
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${sec} s` : `${sec} s`;
}

// "Polite" announcements for screen readers and a visible status line.
export function announce(msg, kind) {
  const s = document.getElementById('status');
  clear(s);
  if (!msg) return;
  s.append(el('p', {class: kind === 'error' ? 'error' : 'info'}, msg));
}

export function parseTime(s) {
  const t = Date.parse(String(s).trim());
  return isNaN(t) ? null : new Date(t);
}

export function table(headers, rows, caption) {
  return el('div', {class: 'table-wrap'},
    el('table', {},
      caption ? el('caption', {}, caption) : null,
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', {scope: 'col'}, h)))),
      el('tbody', {}, rows)));
}

export function progressBar(pct, label) {
  const p = Math.max(0, Math.min(100, Number(pct) || 0));
  return el('span', {class: 'progress'},
    el('progress', {max: 100, value: p, 'aria-label': label || 'progress'}),
    el('span', {class: 'pct'}, p.toFixed(p < 100 && p > 0 ? 1 : 0) + '%'));
}

// A modal confirmation; resolves true/false. Keyboard: Esc cancels, focus
// starts on Cancel so Enter never confirms by accident.
export function confirmDialog(title, body, okLabel) {
  return new Promise((resolve) => {
    const ok = el('button', {type: 'button', class: 'danger', 'data-action': 'confirm'},
      okLabel || 'Confirm');
    const cancel = el('button', {type: 'button', 'data-action': 'cancel'}, 'Cancel');
    const d = el('dialog', {'aria-labelledby': 'dlg-title', class: 'dialog'},
      el('h2', {id: 'dlg-title'}, title),
      el('div', {class: 'dlg-body'}, body),
      el('div', {class: 'actions'}, cancel, ok));
    const done = (v) => { d.close(); d.remove(); resolve(v); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(d);
    d.showModal();
    cancel.focus();
  });
}
