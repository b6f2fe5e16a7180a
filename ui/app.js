// Entry point: login, navigation (the URL hash names the page, so the
// browser's back button and bookmarks work) and the pages.
import {api, token, setUnauthorizedHandler} from './api.js';
import {announce, clear, el} from './util.js';
import * as buckets from './buckets.js';
import * as jobs from './jobs.js';
import * as files from './files.js';
import * as pitr from './pitr.js';
import * as connections from './connections.js';

const pages = {buckets, jobs, files, pitr, connections};
let cleanup = null;

const $ = (id) => document.getElementById(id);

function showLogin(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  $('login').hidden = false;
  $('page').hidden = true;
  $('nav').hidden = true;
  $('logout').hidden = true;
  clear($('login-error'));
  if (message) $('login-error').append(message);
  $('token').focus();
}

async function showPage() {
  if (!token.get()) return showLogin();
  $('login').hidden = true;
  $('nav').hidden = false;
  $('logout').hidden = false;
  const name = (location.hash.slice(1).split('/')[0]) || 'buckets';
  const page = pages[name] || pages.buckets;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (cleanup) { cleanup(); cleanup = null; }
  announce('');
  const root = clear($('page'));
  root.hidden = false;
  root.setAttribute('data-page', name);
  document.title = `${page.title} · tsvault console`;
  try {
    cleanup = (await page.render(root, location.hash.slice(1).split('/').slice(1))) || null;
  } catch (e) {
    root.append(el('p', {class: 'error', role: 'alert'}, `Could not load ${page.title}: ${e.message}`));
  }
}

async function login(ev) {
  ev.preventDefault();
  const t = $('token').value.trim();
  if (!t) return;
  token.set(t);
  try {
    // Any token reads /api/v2/orgs; an unknown one gets 401.
    await api('GET', '/api/v2/orgs');
  } catch (e) {
    token.clear();
    return showLogin(e.status === 401 ? 'That token was not accepted.' : `Login failed: ${e.message}`);
  }
  $('token').value = '';
  if (!location.hash) location.hash = '#buckets';
  else showPage();
  $('main').focus();
}

setUnauthorizedHandler(() => {
  token.clear();
  showLogin('The server refused the token (401): log in again.');
});

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', () => { token.clear(); location.hash = ''; showLogin(); });
  window.addEventListener('hashchange', showPage);
  showPage();
});
