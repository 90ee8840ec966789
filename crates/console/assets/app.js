// The shardline web console: one ES module, no framework, no build step. It is a client like any
// SDK: Kinesis (JSON 1.1) and CloudWatch GetMetricData (JSON 1.0) on `POST /`, the fault rules on
// `/_shardline/faults`, and optionally a DynamoDB lease table (the leases panel) elsewhere. Under
// `--auth sigv4` every request is signed in the browser (sigv4.js).
//
// Pages are routed by the URL hash (#/streams, #/streams/NAME, #/streams/NAME/shards, …); each
// render gets a fresh page context whose timers stop when the user navigates away.

import { signRequest } from './sigv4.js';

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

/** Creates an element: h('div', {class: 'x', onclick: fn, dataset: {...}}, child, 'text', …). */
function h(tag, attrs = {}, ...children) {
  const el = tag === 'svg' || SVG_TAGS.has(tag) ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'testid') el.setAttribute('data-testid', v);
    else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}
const SVG_TAGS = new Set(['g', 'path', 'line', 'text', 'rect', 'circle', 'title', 'polyline']);

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

let uid = 0;
/** A labelled form field: returns {wrap, input}. */
function field(labelText, input, hint) {
  if (!input.id) input.id = `f${++uid}`;
  const wrap = h('div', { class: 'field' }, h('label', { for: input.id }, labelText), input, hint ? h('span', { class: 'hint' }, hint) : null);
  return wrap;
}

function badge(status) {
  const s = String(status || 'UNKNOWN');
  const cls = ['ACTIVE', 'OPEN', 'ENABLED', 'Complete'].includes(s)
    ? 'ok'
    : ['CREATING', 'UPDATING', 'DELETING', 'ENABLING', 'DISABLING', 'PartialData'].includes(s)
      ? 'pending'
      : ['CLOSED', 'NONE', 'DISABLED'].includes(s)
        ? 'muted'
        : 'bad';
  return h('span', { class: `badge ${cls}`, testid: 'status', dataset: { status: s } }, s);
}

function panel(title, { actions = [], testid, flush = false, counter } = {}, ...body) {
  return h(
    'section',
    { class: 'panel', testid },
    h('header', {}, h('h2', {}, title, counter !== undefined ? h('span', { class: 'counter' }, ` (${counter})`) : null), h('div', { class: 'actions' }, actions)),
    h('div', { class: flush ? 'body flush' : 'body' }, body),
  );
}

function fmtTime(epochSeconds) {
  if (epochSeconds === undefined || epochSeconds === null) return '—';
  const d = new Date(Number(epochSeconds) * 1000);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

function fmtNumber(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
  if (Number.isInteger(n)) return String(n);
  return String(+n.toFixed(2));
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : +v.toFixed(1)} ${units[i]}`;
}

// ---------------------------------------------------------------------------------------------
// Notices (one area under the top bar)

function notify(kind, text, { sticky = kind === 'error' } = {}) {
  const area = $('.notices');
  const n = h(
    'div',
    { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', testid: kind === 'error' ? 'notice-error' : 'notice-success' },
    h('span', { class: 'text' }, text),
    h('button', { type: 'button', class: 'link close', 'aria-label': 'Dismiss', onclick: () => n.remove() }, '✕'),
  );
  area.append(n);
  while (area.children.length > 4) area.firstElementChild.remove();
  if (!sticky) setTimeout(() => n.remove(), 6000);
  return n;
}

function clearNotices() {
  clear($('.notices'));
}

// ---------------------------------------------------------------------------------------------
// API access

const CONFIG = { auth: 'none', region: 'us-east-1', account: '000000000000', version: '' };
const KEY_STORE = 'shardline.console.credentials';

/** An AWS error as the server sent it (type and message verbatim). */
class ApiError extends Error {
  constructor(type, message, status) {
    super(message ? `${type}: ${message}` : type);
    this.type = type;
    this.awsMessage = message;
    this.status = status;
  }
}

function credentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(KEY_STORE) || 'null');
    return c && c.accessKeyId && c.secretAccessKey ? c : null;
  } catch {
    return null;
  }
}

function errorText(e) {
  if (e instanceof ApiError) return e.message;
  if (e instanceof TypeError) return `The request did not reach the server: ${e.message}`;
  return String(e && e.message ? e.message : e);
}

async function send(url, { method = 'POST', headers = {}, body = '', service = 'kinesis', creds = credentials(), region } = {}) {
  let h2 = headers;
  if (creds) {
    const signed = await signRequest(
      { method, url: new URL(url, location.href).href, headers, body },
      { ...creds, region: region || creds.region || CONFIG.region, service },
    );
    h2 = signed.headers;
  }
  return fetch(url, { method, headers: h2, body: method === 'GET' || method === 'DELETE' ? undefined : body, cache: 'no-store' });
}

async function awsJson(response) {
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = null;
  }
  if (!response.ok) {
    if (json && (json.__type || json.message || json.Message)) {
      const type = String(json.__type || `HTTP ${response.status}`).split('#').pop();
      throw new ApiError(type, json.message ?? json.Message ?? '', response.status);
    }
    const bare = /^<([A-Za-z]+)\/>$/.exec(text.trim());
    if (bare) throw new ApiError(bare[1], '', response.status);
    const xmlType = /<Code>([A-Za-z]+)<\/Code>/.exec(text) || /<([A-Za-z]+Exception)/.exec(text);
    const xmlMessage = /<Message>([^<]*)<\/Message>/.exec(text);
    throw new ApiError(xmlType ? xmlType[1] : `HTTP ${response.status}`, xmlMessage ? xmlMessage[1] : text.trim().slice(0, 500), response.status);
  }
  if (json === null) throw new ApiError('InvalidResponse', `not JSON: ${text.slice(0, 200)}`, response.status);
  return json;
}

/** Calls a Kinesis operation: kinesis('ListStreams', {...}). */
async function kinesis(operation, body = {}, opts = {}) {
  const r = await send('/', {
    ...opts,
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `Kinesis_20131202.${operation}` },
    body: JSON.stringify(body),
    service: 'kinesis',
  });
  return awsJson(r);
}

/** Calls a CloudWatch operation (JSON 1.0). */
async function cloudwatch(operation, body = {}) {
  const r = await send('/', {
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `GraniteServiceVersion20100801.${operation}` },
    body: JSON.stringify(body),
    service: 'monitoring',
  });
  return awsJson(r);
}

/** The admin endpoints: plain-text errors. */
async function admin(method, path, body) {
  const r = await send(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? '' : JSON.stringify(body),
    service: 'kinesis',
  });
  const text = await r.text();
  if (!r.ok) {
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* plain text */
    }
    if (json && json.__type) throw new ApiError(String(json.__type).split('#').pop(), json.message ?? json.Message ?? '', r.status);
    const xmlType = /^<([A-Za-z]+)\/?>/.exec(text.trim());
    throw new ApiError(`HTTP ${r.status}`, xmlType ? xmlType[1] : text.trim(), r.status);
  }
  // Lists and ids come as JSON, removals as a word of text ("removed", "cleared").
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// Page context: timers that die with the page

let page = null;

class Page {
  constructor() {
    this.alive = true;
    this.timers = new Set();
    this.cleanups = [];
  }

  /** Runs fn after ms (unless the page is gone). */
  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.alive) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  cancel(t) {
    clearTimeout(t);
    this.timers.delete(t);
  }

  dispose() {
    this.alive = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const fn of this.cleanups) fn();
  }
}

// ---------------------------------------------------------------------------------------------
// Router

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'signin') return { name: 'signin' };
  if (parts[0] === 'faults') return { name: 'faults' };
  if (parts[0] === 'metrics') return { name: 'metrics', namespace: parts[1] };
  if (parts[0] === 'streams' && parts[1]) return { name: 'stream', stream: parts[1], tab: parts[2] || 'monitoring' };
  return { name: 'streams' };
}

function streamHref(name, tab) {
  return `#/streams/${encodeURIComponent(name)}${tab && tab !== 'monitoring' ? `/${tab}` : ''}`;
}

async function render() {
  if (page) page.dispose();
  page = new Page();
  const app = $('#app');
  const route = parseRoute();
  for (const a of document.querySelectorAll('.topnav a')) {
    a.classList.toggle('active', a.dataset.nav === (['faults', 'metrics'].includes(route.name) ? route.name : 'streams'));
  }
  updateWho();
  if (CONFIG.auth === 'sigv4' && !credentials() && route.name !== 'signin') {
    location.hash = '#/signin';
    return;
  }
  clear(app);
  document.title = 'shardline console';
  try {
    if (route.name === 'signin') await signInPage(app, page);
    else if (route.name === 'faults') await faultsPage(app, page);
    else if (route.name === 'metrics') await metricsPage(app, page, route);
    else if (route.name === 'stream') await streamPage(app, page, route);
    else await streamsPage(app, page);
  } catch (e) {
    app.append(h('div', { class: 'inline-error', testid: 'page-error' }, errorText(e)));
  }
}

function updateWho() {
  const c = credentials();
  const who = $('[data-testid=who]');
  const out = $('[data-testid=sign-out]');
  who.hidden = !c;
  out.hidden = !c || CONFIG.auth !== 'sigv4';
  who.textContent = c ? `Key ${c.accessKeyId}` : '';
  $('[data-testid=region]').textContent = `${(c && c.region) || CONFIG.region} · account ${CONFIG.account}`;
}

// ---------------------------------------------------------------------------------------------
// Sign-in (--auth sigv4)

async function signInPage(app, pg) {
  document.title = 'Sign in · shardline console';
  const keyId = h('input', { type: 'text', name: 'accessKeyId', autocomplete: 'username', required: true, testid: 'signin-key-id', spellcheck: 'false' });
  const secret = h('input', { type: 'password', name: 'secretAccessKey', autocomplete: 'current-password', required: true, testid: 'signin-secret' });
  const region = h('input', { type: 'text', name: 'region', value: CONFIG.region, required: true, testid: 'signin-region' });
  const err = h('div', { class: 'inline-error', testid: 'signin-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'signin-submit' }, 'Sign in');
  const form = h(
    'form',
    {
      testid: 'signin-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.hidden = true;
        submit.disabled = true;
        const creds = { accessKeyId: keyId.value.trim(), secretAccessKey: secret.value, region: region.value.trim() || CONFIG.region };
        try {
          await kinesis('ListStreams', { Limit: 1 }, { creds });
          sessionStorage.setItem(KEY_STORE, JSON.stringify(creds));
          location.hash = '#/streams';
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('div', { class: 'form-row' }, h('div', { class: 'field wide' }, field('Access key ID', keyId))),
    h('div', { class: 'form-row' }, h('div', { class: 'field wide' }, field('Secret access key', secret))),
    h('div', { class: 'form-row' }, h('div', { class: 'field wide' }, field('Region', region))),
    err,
    h('div', { class: 'form-row' }, submit),
  );
  app.append(
    h(
      'div',
      { class: 'signin' },
      panel(
        'Sign in',
        { testid: 'signin' },
        h('p', { class: 'hint' }, 'This server checks AWS Signature V4 (--auth sigv4). Give a key from its credentials file; the console signs every request with it in this browser. The key stays in this tab (sessionStorage).'),
        form,
      ),
    ),
  );
  if (CONFIG.auth !== 'sigv4') {
    app.prepend(h('p', { class: 'hint' }, 'This server does not check signatures; signing in is optional.'));
  }
  keyId.focus();
  void pg;
}

// ---------------------------------------------------------------------------------------------
// Streams list

async function listAllStreams() {
  const summaries = [];
  let token;
  for (let i = 0; i < 100; i++) {
    const out = await kinesis('ListStreams', token ? { NextToken: token, Limit: 100 } : { Limit: 100 });
    if (out.StreamSummaries) summaries.push(...out.StreamSummaries);
    else for (const n of out.StreamNames || []) summaries.push({ StreamName: n });
    if (!out.HasMoreStreams || !out.NextToken) break;
    token = out.NextToken;
  }
  return summaries;
}

const TRANSITIONAL = new Set(['CREATING', 'UPDATING', 'DELETING']);

async function streamsPage(app, pg) {
  document.title = 'Data streams · shardline console';
  app.append(h('div', { class: 'crumbs' }, 'Kinesis › Data streams'), h('h1', {}, 'Data streams'));

  // Create form
  const name = h('input', { type: 'text', name: 'streamName', testid: 'create-name', required: true, pattern: '[a-zA-Z0-9_.\\-]+', maxlength: 128, placeholder: 'my-stream', spellcheck: 'false' });
  const modeP = h('input', { type: 'radio', name: 'mode', value: 'PROVISIONED', checked: true, testid: 'create-mode-provisioned', id: 'mode-prov' });
  const modeO = h('input', { type: 'radio', name: 'mode', value: 'ON_DEMAND', testid: 'create-mode-on-demand', id: 'mode-od' });
  const shards = h('input', { type: 'number', name: 'shardCount', min: 1, value: '1', testid: 'create-shards', style: 'width:110px' });
  const shardsField = field('Provisioned shards', shards);
  const syncMode = () => {
    shardsField.hidden = modeO.checked;
  };
  modeP.addEventListener('change', syncMode);
  modeO.addEventListener('change', syncMode);
  const createErr = h('div', { class: 'inline-error', testid: 'create-error', role: 'alert', hidden: true });
  const createBtn = h('button', { type: 'submit', class: 'primary', testid: 'create-submit' }, 'Create data stream');
  const form = h(
    'form',
    {
      testid: 'create-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        createErr.hidden = true;
        const body = { StreamName: name.value.trim() };
        if (modeO.checked) body.StreamModeDetails = { StreamMode: 'ON_DEMAND' };
        else {
          body.ShardCount = Number(shards.value);
          body.StreamModeDetails = { StreamMode: 'PROVISIONED' };
        }
        createBtn.disabled = true;
        try {
          await kinesis('CreateStream', body);
          notify('success', `Creating stream ${body.StreamName}.`);
          name.value = '';
          await refresh();
        } catch (e) {
          createErr.textContent = errorText(e);
          createErr.hidden = false;
        } finally {
          createBtn.disabled = false;
        }
      },
    },
    h(
      'div',
      { class: 'form-row' },
      field('Data stream name', name, 'Letters, digits, _ . - ; up to 128 characters.'),
      h('fieldset', {}, h('legend', {}, 'Capacity mode'), h('label', { class: 'radio', for: 'mode-prov' }, modeP, 'Provisioned'), h('label', { class: 'radio', for: 'mode-od' }, modeO, 'On-demand')),
      shardsField,
      createBtn,
    ),
    createErr,
  );

  const tableBody = h('tbody', { testid: 'streams-tbody' });
  const count = h('span', { class: 'counter', testid: 'streams-count' });
  const listErr = h('div', { class: 'inline-error', testid: 'streams-error', role: 'alert', hidden: true });
  const refreshBtn = h('button', { type: 'button', testid: 'streams-refresh', onclick: () => refresh() }, '↻ Refresh');
  const filter = h('input', { type: 'search', testid: 'streams-filter', placeholder: 'Find streams', 'aria-label': 'Find streams by name', style: 'width:220px' });
  const applyFilter = () => {
    const q = filter.value.trim().toLowerCase();
    for (const tr of tableBody.querySelectorAll('[data-testid=stream-row]')) tr.hidden = q !== '' && !tr.dataset.stream.toLowerCase().includes(q);
  };
  filter.addEventListener('input', applyFilter);
  app.append(
    h(
      'section',
      { class: 'panel', testid: 'streams-panel' },
      h('header', {}, h('h2', {}, 'Data streams ', count), h('div', { class: 'actions' }, filter, refreshBtn)),
      h(
        'div',
        { class: 'body flush' },
        listErr,
        h(
          'table',
          { class: 'grid', testid: 'streams-table' },
          h(
            'thead',
            {},
            h('tr', {}, ['Name', 'Status', 'Capacity mode', 'Open shards', 'Retention', 'Encryption', 'Consumers', 'Created', ''].map((c) => h('th', { scope: 'col', class: ['Open shards', 'Consumers'].includes(c) ? 'num' : null }, c))),
          ),
          tableBody,
        ),
      ),
    ),
    panel('Create data stream', { testid: 'create-panel' }, form),
  );

  let timer = null;
  let busy = false;
  const cache = new Map();
  let again = false;
  async function refresh() {
    if (!pg.alive) return;
    if (busy) {
      // A refresh is under way with what it read before; run once more right after it.
      again = true;
      return;
    }
    busy = true;
    if (timer) pg.cancel(timer);
    let transitional = false;
    try {
      const list = await listAllStreams();
      // ListStreams gives name, status and mode; the rest needs DescribeStreamSummary (20 calls
      // a second per account on AWS's limits). Describe only what is new, changing or stale, a
      // few at a time, and keep the last answer for the rest.
      const now = Date.now();
      const stale = list.filter((s) => {
        const c = cache.get(s.StreamName);
        return !c || c.StreamStatus !== s.StreamStatus || TRANSITIONAL.has(s.StreamStatus) || now - c.at > 30000;
      });
      for (let i = 0; i < stale.length && pg.alive; i += 8) {
        await Promise.all(
          stale.slice(i, i + 8).map(async (s) => {
            try {
              const d = (await kinesis('DescribeStreamSummary', { StreamName: s.StreamName })).StreamDescriptionSummary;
              cache.set(s.StreamName, { ...d, at: Date.now() });
            } catch (e) {
              cache.set(s.StreamName, { StreamStatus: s.StreamStatus, error: e, at: Date.now() });
            }
          }),
        );
        if (i + 8 < stale.length) await new Promise((r) => setTimeout(r, 500));
      }
      for (const name of [...cache.keys()]) if (!list.some((s) => s.StreamName === name)) cache.delete(name);
      // The status from ListStreams is the newest; the cached summary fills in the rest.
      const details = list.map((s) => ({ ...cache.get(s.StreamName), ...s }));
      if (!pg.alive) return;
      listErr.hidden = true;
      count.textContent = `(${details.length})`;
      clear(tableBody);
      if (!details.length) tableBody.append(h('tr', {}, h('td', { class: 'empty', colspan: 9 }, 'No data streams yet. Create one below.')));
      for (const s of details.sort((a, b) => a.StreamName.localeCompare(b.StreamName))) {
        if (TRANSITIONAL.has(s.StreamStatus)) transitional = true;
        const mode = s.StreamModeDetails?.StreamMode;
        tableBody.append(
          h(
            'tr',
            { testid: 'stream-row', dataset: { stream: s.StreamName, status: s.StreamStatus || '' } },
            h('td', {}, h('a', { href: streamHref(s.StreamName), testid: 'stream-link' }, s.StreamName)),
            h('td', {}, badge(s.StreamStatus)),
            h('td', {}, mode === 'ON_DEMAND' ? 'On-demand' : mode === 'PROVISIONED' ? 'Provisioned' : '—'),
            h('td', { class: 'num', testid: 'open-shards' }, s.OpenShardCount ?? '—'),
            h('td', {}, s.RetentionPeriodHours !== undefined ? `${s.RetentionPeriodHours} h` : '—'),
            h('td', {}, s.EncryptionType === 'KMS' ? 'KMS' : s.EncryptionType ? 'Disabled' : '—'),
            h('td', { class: 'num' }, s.ConsumerCount ?? '—'),
            h('td', {}, fmtTime(s.StreamCreationTimestamp)),
            h(
              'td',
              { class: 'right' },
              s.error ? h('span', { class: 'muted', title: errorText(s.error) }, s.error.type) : null,
              s.StreamStatus === 'DELETING'
                ? null
                : h('button', { type: 'button', class: 'small danger', testid: 'delete-stream', 'aria-label': `Delete stream ${s.StreamName}`, onclick: () => confirmDelete(s.StreamName) }, 'Delete'),
            ),
          ),
        );
      }
      applyFilter();
    } catch (e) {
      if (!pg.alive) return;
      listErr.textContent = errorText(e);
      listErr.hidden = false;
    } finally {
      busy = false;
    }
    if (!pg.alive) return;
    if (again) {
      again = false;
      timer = pg.later(0, refresh);
    } else timer = pg.later(transitional ? 1000 : 5000, refresh);
  }

  function confirmDelete(stream) {
    modal({
      title: `Delete ${stream}?`,
      body: h('p', {}, 'The stream, its shards and its data are deleted. This cannot be undone.'),
      confirmText: 'Delete',
      danger: true,
      onConfirm: async () => {
        await kinesis('DeleteStream', { StreamName: stream, EnforceConsumerDeletion: true });
        notify('success', `Deleting stream ${stream}.`);
        await refresh();
      },
    });
  }

  await refresh();
}

/** A confirmation dialog; onConfirm's error is shown inside it. */
function modal({ title, body, confirmText = 'OK', danger = false, onConfirm }) {
  const err = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: 'modal-error' });
  const close = () => back.remove();
  const ok = h(
    'button',
    {
      type: 'button',
      class: danger ? 'danger primary' : 'primary',
      testid: 'modal-confirm',
      onclick: async () => {
        ok.disabled = true;
        try {
          await onConfirm();
          close();
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
          ok.disabled = false;
        }
      },
    },
    confirmText,
  );
  const back = h(
    'div',
    { class: 'modal-back', testid: 'modal' },
    h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-label': title }, h('header', {}, title), h('div', { class: 'body' }, body, err), h('footer', {}, h('button', { type: 'button', testid: 'modal-cancel', onclick: close }, 'Cancel'), ok)),
  );
  back.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') close();
  });
  document.body.append(back);
  if (page) page.cleanups.push(close);
  ok.focus();
}

// ---------------------------------------------------------------------------------------------
// One stream: header, summary and tabs

const TABS = [
  ['monitoring', 'Monitoring'],
  ['configuration', 'Configuration'],
  ['shards', 'Shards'],
  ['data', 'Data viewer'],
  ['consumers', 'Consumers'],
];

async function streamPage(app, pg, route) {
  const name = route.stream;
  const tab = TABS.some(([t]) => t === route.tab) ? route.tab : 'monitoring';
  document.title = `${name} · shardline console`;
  const statusSlot = h('span', { testid: 'stream-status' });
  app.append(
    h('div', { class: 'crumbs' }, h('a', { href: '#/streams' }, 'Data streams'), ' › ', name),
    h('h1', {}, h('span', { testid: 'stream-name' }, name), statusSlot),
  );
  const summarySlot = h('div', { testid: 'summary-slot' });
  app.append(summarySlot);
  app.append(h('nav', { class: 'tabs', 'aria-label': 'Stream' }, TABS.map(([t, label]) => h('a', { href: streamHref(name, t), class: t === tab ? 'active' : null, testid: `tab-${t}`, 'aria-current': t === tab ? 'page' : null }, label))));
  const content = h('div', { testid: `tab-content-${tab}` });
  app.append(content);

  // The summary is shared by the tabs; `stream.reload()` refreshes it (and tells listeners).
  const stream = {
    name,
    summary: null,
    listeners: [],
    async reload() {
      const s = (await kinesis('DescribeStreamSummary', { StreamName: name })).StreamDescriptionSummary;
      this.summary = s;
      if (!pg.alive) return s;
      clear(statusSlot, badge(s.StreamStatus));
      clear(summarySlot, summaryPanel(s));
      for (const fn of this.listeners) fn(s);
      return s;
    },
  };
  let s;
  try {
    s = await stream.reload();
  } catch (e) {
    content.append(h('div', { class: 'inline-error', testid: 'stream-error', role: 'alert' }, errorText(e)));
    return;
  }
  // Keep the status live while it is changing.
  const poll = async () => {
    try {
      const before = stream.summary?.StreamStatus;
      const now = await stream.reload();
      if (TRANSITIONAL.has(now.StreamStatus) || TRANSITIONAL.has(before)) pg.later(1000, poll);
      else pg.later(10000, poll);
    } catch (e) {
      if (!pg.alive) return;
      clear(statusSlot, h('span', { class: 'badge bad' }, e.type || 'error'));
      pg.later(5000, poll);
    }
  };
  pg.later(TRANSITIONAL.has(s.StreamStatus) ? 1000 : 10000, poll);
  stream.pollSoon = () => pg.later(300, poll);

  if (tab === 'monitoring') await monitoringTab(content, pg, stream);
  else if (tab === 'configuration') await configurationTab(content, pg, stream);
  else if (tab === 'shards') await shardsTab(content, pg, stream);
  else if (tab === 'data') await dataTab(content, pg, stream);
  else if (tab === 'consumers') await consumersTab(content, pg, stream);
}

function summaryPanel(s) {
  const mode = s.StreamModeDetails?.StreamMode;
  const enhanced = (s.EnhancedMonitoring || []).flatMap((e) => e.ShardLevelMetrics || []);
  const item = (k, v, testid) => [h('div', {}, h('dt', {}, k), h('dd', { testid }, v))];
  return panel(
    'Data stream summary',
    { testid: 'stream-summary' },
    h(
      'dl',
      { class: 'kv' },
      item('Status', badge(s.StreamStatus), 'summary-status'),
      item('Capacity mode', mode === 'ON_DEMAND' ? 'On-demand' : 'Provisioned', 'summary-mode'),
      item('Open shards', String(s.OpenShardCount ?? '—'), 'summary-open-shards'),
      item('Data retention period', `${s.RetentionPeriodHours} hours`, 'summary-retention'),
      item('Server-side encryption', s.EncryptionType === 'KMS' ? `Enabled (${s.KeyId})` : 'Disabled', 'summary-encryption'),
      item('Maximum record size', s.MaxRecordSizeInKiB ? `${s.MaxRecordSizeInKiB} KiB` : '1024 KiB', 'summary-max-record'),
      item('Enhanced (shard-level) metrics', enhanced.includes('ALL') || enhanced.length >= 7 ? 'All shard-level metrics' : enhanced.length ? enhanced.join(', ') : 'Disabled', 'summary-enhanced'),
      item('Consumers (enhanced fan-out)', String(s.ConsumerCount ?? 0), 'summary-consumers'),
      item('Created', fmtTime(s.StreamCreationTimestamp), 'summary-created'),
      item('ARN', h('code', {}, s.StreamARN), 'summary-arn'),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Monitoring: CloudWatch GetMetricData, hand-drawn SVG charts

const WINDOWS = [
  { id: '3m', label: '3 minutes', seconds: 180, period: 1 },
  { id: '1h', label: '1 hour', seconds: 3600, period: 60 },
  { id: '3h', label: '3 hours', seconds: 3 * 3600, period: 60 },
  { id: '12h', label: '12 hours', seconds: 12 * 3600, period: 300 },
  { id: '24h', label: '24 hours', seconds: 24 * 3600, period: 300 },
];

const CHARTS = [
  { id: 'IncomingRecords', title: 'Incoming data (records)', unit: 'Count', metrics: [['IncomingRecords', 'Sum']] },
  { id: 'IncomingBytes', title: 'Incoming data (bytes)', unit: 'Bytes', metrics: [['IncomingBytes', 'Sum']] },
  { id: 'PutLatency', title: 'Put latency', unit: 'Milliseconds (average)', metrics: [['PutRecord.Latency', 'Average'], ['PutRecords.Latency', 'Average']] },
  { id: 'GetRecords', title: 'GetRecords (records)', unit: 'Count', metrics: [['GetRecords.Records', 'Sum']] },
  { id: 'GetRecordsBytes', title: 'GetRecords (bytes)', unit: 'Bytes', metrics: [['GetRecords.Bytes', 'Sum']] },
  { id: 'IteratorAge', title: 'GetRecords iterator age', unit: 'Milliseconds (maximum)', metrics: [['GetRecords.IteratorAgeMilliseconds', 'Maximum']] },
  { id: 'SubscribeToShard', title: 'SubscribeToShard (records)', unit: 'Count', metrics: [['SubscribeToShardEvent.Records', 'Sum']] },
  { id: 'SubscribeToShardBytes', title: 'SubscribeToShard (bytes)', unit: 'Bytes', metrics: [['SubscribeToShardEvent.Bytes', 'Sum']] },
  { id: 'MillisBehindLatest', title: 'SubscribeToShard millis behind latest', unit: 'Milliseconds (maximum)', metrics: [['SubscribeToShardEvent.MillisBehindLatest', 'Maximum']] },
  {
    id: 'Throttled',
    title: 'Throttled requests',
    unit: 'Count',
    kind: 'bar',
    metrics: [
      ['WriteProvisionedThroughputExceeded', 'Sum'],
      ['ReadProvisionedThroughputExceeded', 'Sum'],
    ],
  },
];

const COLORS = ['#0972d3', '#ec7211', '#037f0c', '#962249', '#8456ce', '#00819c'];

async function monitoringTab(content, pg, stream) {
  const saved = localStorage.getItem('shardline.console.window');
  let win = WINDOWS.find((w) => w.id === saved) || WINDOWS[1];
  const select = h('select', { testid: 'window-select', name: 'window' }, WINDOWS.map((w) => h('option', { value: w.id, selected: w.id === win.id }, `${w.label} (period ${w.period < 60 ? `${w.period} s` : `${w.period / 60} min`})`)));
  select.addEventListener('change', () => {
    win = WINDOWS.find((w) => w.id === select.value);
    localStorage.setItem('shardline.console.window', win.id);
    load();
  });
  const updated = h('span', { class: 'hint', testid: 'metrics-updated' });
  const err = h('div', { class: 'inline-error', testid: 'metrics-error', role: 'alert', hidden: true });
  const grid = h('div', { class: 'charts', testid: 'charts' });
  content.append(
    panel(
      'Stream metrics',
      { testid: 'monitoring', actions: [field('Time range', select), h('button', { type: 'button', testid: 'metrics-refresh', onclick: () => load() }, '↻')] },
      err,
      grid,
      updated,
    ),
  );
  let timer = null;
  async function load() {
    if (timer) pg.cancel(timer);
    const end = Math.ceil(Date.now() / 1000 / win.period) * win.period + win.period;
    const start = end - win.seconds - win.period;
    const queries = [];
    CHARTS.forEach((c, ci) =>
      c.metrics.forEach(([metric, stat], mi) =>
        queries.push({
          Id: `c${ci}m${mi}`,
          MetricStat: { Metric: { Namespace: 'AWS/Kinesis', MetricName: metric, Dimensions: [{ Name: 'StreamName', Value: stream.name }] }, Period: win.period, Stat: stat },
          ReturnData: true,
        }),
      ),
    );
    let results = null;
    let error = null;
    try {
      const out = await getAllMetricData(queries, start, end);
      results = out;
    } catch (e) {
      error = e;
    }
    if (!pg.alive) return;
    err.hidden = !error;
    if (error) err.textContent = `No metrics: ${errorText(error)}`;
    clear(grid);
    CHARTS.forEach((c, ci) => {
      const series = c.metrics.map(([metric, stat], mi) => {
        const r = results?.get(`c${ci}m${mi}`);
        return { label: `${metric} (${stat})`, metric, stat, timestamps: r?.Timestamps || [], values: r?.Values || [], status: r?.StatusCode, fillZero: stat === 'Sum' };
      });
      grid.append(chart({ id: c.id, title: c.title, unit: c.unit, kind: c.kind || 'line', series, start, end, period: win.period, error }));
    });
    updated.textContent = `Updated ${new Date().toLocaleTimeString()} · ${win.label}, one point per ${win.period} s · CloudWatch namespace AWS/Kinesis, dimension StreamName=${stream.name}`;
    timer = pg.later(win.period < 60 ? 5000 : 20000, load);
  }
  await load();
}

/** GetMetricData over every page (NextToken); results by Id, values merged. */
async function getAllMetricData(queries, start, end) {
  const byId = new Map();
  let token;
  for (let i = 0; i < 20; i++) {
    const body = { MetricDataQueries: queries, StartTime: start, EndTime: end, ScanBy: 'TimestampDescending' };
    if (token) body.NextToken = token;
    const out = await cloudwatch('GetMetricData', body);
    for (const r of out.MetricDataResults || []) {
      const prev = byId.get(r.Id);
      if (prev) {
        prev.Timestamps.push(...(r.Timestamps || []));
        prev.Values.push(...(r.Values || []));
      } else byId.set(r.Id, { ...r, Timestamps: [...(r.Timestamps || [])], Values: [...(r.Values || [])] });
    }
    if (!out.NextToken) break;
    token = out.NextToken;
  }
  return byId;
}

function legendText(s, fmt) {
  if (!s.values.length) return 'no data';
  if (s.stat === 'Sum') return `total ${fmt(s.values.reduce((a, b) => a + b, 0))}`;
  // Values come newest first.
  return `latest ${fmt(s.values[0])}, peak ${fmt(Math.max(...s.values))}`;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function timeLabel(epoch, spanSeconds) {
  const d = new Date(epoch * 1000);
  const hh = String(d.getHours()).padStart(2, '0');
  const mm = String(d.getMinutes()).padStart(2, '0');
  const ss = String(d.getSeconds()).padStart(2, '0');
  return spanSeconds <= 600 ? `${hh}:${mm}:${ss}` : `${hh}:${mm}`;
}

/**
 * One chart. The values as CloudWatch returned them are kept in data-values (JSON, per series in
 * data-series) so tests and curious users can read exactly what is plotted.
 */
function chart({ id, title, unit, kind, series, start, end, period, error }) {
  const W = 560;
  const H = 210;
  const L = 56;
  const R = 12;
  const T = 10;
  const B = 26;
  const pw = W - L - R;
  const ph = H - T - B;
  const fmt = unit.startsWith('Bytes') ? fmtBytes : fmtNumber;
  const allValues = series.flatMap((s) => s.values);
  const total = series[0].values.reduce((a, b) => a + b, 0);
  const ymax = niceMax(Math.max(0, ...allValues));
  const x = (t) => L + ((t - start) / (end - start)) * pw;
  const y = (v) => T + ph - (v / ymax) * ph;
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title} chart` });
  // Grid and y axis
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    svg.append(h('line', { class: 'gridline', x1: L, x2: W - R, y1: y(v), y2: y(v) }), h('text', { class: 'tick', x: L - 6, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v)));
  }
  svg.append(h('line', { class: 'axis', x1: L, x2: L, y1: T, y2: T + ph }), h('line', { class: 'axis', x1: L, x2: W - R, y1: T + ph, y2: T + ph }));
  // x axis ticks
  for (let i = 0; i <= 5; i++) {
    const t = start + ((end - start) * i) / 5;
    svg.append(h('line', { class: 'axis', x1: x(t), x2: x(t), y1: T + ph, y2: T + ph + 4 }), h('text', { class: 'tick', x: x(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle' }, timeLabel(t, end - start)));
  }
  const anyData = allValues.length > 0;
  series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length];
    // Points oldest first; Sum series get zeros where CloudWatch has no datapoint.
    const points = new Map();
    s.timestamps.forEach((t, i) => points.set(Math.round(t), (points.get(Math.round(t)) || 0) + s.values[i]));
    const g = h('g', { class: 'series', dataset: { metric: s.metric, stat: s.stat, values: JSON.stringify(s.values), timestamps: JSON.stringify(s.timestamps) } });
    if (kind === 'bar') {
      const bw = Math.max(1, (pw / ((end - start) / period)) / series.length - 1);
      for (const [t, v] of points) {
        if (v === 0) continue;
        const bx = x(t) + si * bw;
        g.append(h('rect', { x: bx, y: y(v), width: bw, height: T + ph - y(v), fill: color }, h('title', {}, `${timeLabel(t, 0)} ${s.metric}: ${fmt(v)}`)));
      }
    } else {
      let ts = [...points.keys()].sort((a, b) => a - b);
      if (s.fillZero && ts.length) {
        const all = [];
        const now = Date.now() / 1000;
        for (let t = Math.ceil(start / period) * period; t < end && t <= now; t += period) all.push(t);
        for (const t of all) if (!points.has(t)) points.set(t, 0);
        ts = [...points.keys()].sort((a, b) => a - b);
      }
      if (ts.length) {
        const d = ts.map((t, i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(points.get(t)).toFixed(1)}`).join(' ');
        g.append(h('path', { class: 'line', d, stroke: color }));
        for (const t of ts) {
          const v = points.get(t);
          if (v === 0 && s.fillZero && !s.timestamps.some((u) => Math.round(u) === t)) continue;
          g.append(h('circle', { cx: x(t), cy: y(v), r: ts.length > 120 ? 1.5 : 2.5, fill: color }, h('title', {}, `${timeLabel(t, 0)} ${s.metric}: ${fmt(v)}`)));
        }
      }
    }
    svg.append(g);
  });
  if (!anyData) svg.append(h('text', { class: 'nodata', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle', testid: 'chart-nodata' }, error ? 'No data (metrics unavailable)' : 'No data'));
  return h(
    'div',
    {
      class: 'chart',
      testid: `chart-${id}`,
      dataset: { values: JSON.stringify(series[0].values), total: String(total), status: series.map((s) => s.status || '').join(',') },
    },
    h('h3', {}, title, h('span', { class: 'unit' }, unit)),
    svg,
    h('div', { class: 'legend' }, series.map((s, si) => h('span', { style: `--c:${COLORS[si % COLORS.length]}` }, `${s.label}: ${legendText(s, fmt)}`))),
  );
}

// ---------------------------------------------------------------------------------------------
// Configuration: retention, encryption, max record size, enhanced monitoring, tags

const SHARD_METRICS = ['IncomingBytes', 'IncomingRecords', 'OutgoingBytes', 'OutgoingRecords', 'WriteProvisionedThroughputExceeded', 'ReadProvisionedThroughputExceeded', 'IteratorAgeMilliseconds'];

function enhancedList(s) {
  const list = (s.EnhancedMonitoring || []).flatMap((e) => e.ShardLevelMetrics || []);
  return list.includes('ALL') ? [...SHARD_METRICS] : list;
}

/** A small form with its own error/ok line: action() returns a success text. */
function actionForm(testid, rows, buttonText, action, { danger = false } = {}) {
  const err = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: `${testid}-error` });
  const ok = h('div', { class: 'inline-ok', role: 'status', hidden: true, testid: `${testid}-ok` });
  const btn = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', testid: `${testid}-submit` }, buttonText);
  const form = h(
    'form',
    {
      testid,
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.hidden = true;
        ok.hidden = true;
        btn.disabled = true;
        try {
          const text = await action();
          if (text) {
            ok.textContent = text;
            ok.hidden = false;
          }
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
        } finally {
          btn.disabled = false;
        }
      },
    },
    h('div', { class: 'form-row' }, rows, btn),
    err,
    ok,
  );
  return form;
}

async function configurationTab(content, pg, stream) {
  const s = stream.summary;
  const name = stream.name;

  // Retention
  const hours = h('input', { type: 'number', value: String(s.RetentionPeriodHours), testid: 'retention-hours', style: 'width:120px' });
  const retention = actionForm('retention-form', [field('Retention period (hours)', hours, '24 to 8760 hours (365 days)')], 'Save retention', async () => {
    const want = Number(hours.value);
    const cur = stream.summary.RetentionPeriodHours;
    if (want === cur) return 'Unchanged.';
    await kinesis(want > cur ? 'IncreaseStreamRetentionPeriod' : 'DecreaseStreamRetentionPeriod', { StreamName: name, RetentionPeriodHours: want });
    await stream.reload();
    stream.pollSoon();
    return `Retention set to ${want} hours.`;
  });

  // Encryption
  const enc = s.EncryptionType === 'KMS';
  const keyId = h('input', { type: 'text', value: s.KeyId || 'alias/aws/kinesis', testid: 'encryption-key', style: 'width:280px' });
  const encryption = actionForm(
    'encryption-form',
    [h('div', { class: 'field' }, h('span', { class: 'hint' }, 'Currently'), h('strong', { testid: 'encryption-state' }, enc ? `Enabled with ${s.KeyId}` : 'Disabled')), enc ? null : field('KMS key', keyId)],
    enc ? 'Disable encryption' : 'Enable encryption',
    async () => {
      if (enc) await kinesis('StopStreamEncryption', { StreamName: name, EncryptionType: 'KMS', KeyId: s.KeyId });
      else await kinesis('StartStreamEncryption', { StreamName: name, EncryptionType: 'KMS', KeyId: keyId.value.trim() });
      stream.pollSoon();
      rerender();
      return '';
    },
    { danger: enc },
  );

  // Max record size (UpdateMaxRecordSize takes the ARN)
  const maxSize = h('input', { type: 'number', value: String(s.MaxRecordSizeInKiB || 1024), testid: 'max-record-size', style: 'width:120px' });
  const maxRecord = actionForm('max-record-form', [field('Maximum record size (KiB)', maxSize, '1024 to 10240 KiB')], 'Save size', async () => {
    await kinesis('UpdateMaxRecordSize', { StreamARN: stream.summary.StreamARN, MaxRecordSizeInKiB: Number(maxSize.value) });
    await stream.reload();
    stream.pollSoon();
    return `Maximum record size set to ${maxSize.value} KiB.`;
  });

  // Enhanced monitoring
  const current = new Set(enhancedList(s));
  const boxes = SHARD_METRICS.map((m) => h('input', { type: 'checkbox', value: m, checked: current.has(m), id: `em-${m}`, testid: `enhanced-${m}` }));
  const monitoring = actionForm(
    'enhanced-form',
    [h('fieldset', {}, h('legend', {}, 'Shard-level metrics'), h('div', { style: 'display:flex;flex-wrap:wrap;gap:4px 0' }, boxes.map((b) => h('label', { class: 'radio', for: b.id }, b, b.value))))],
    'Save metrics',
    async () => {
      const want = boxes.filter((b) => b.checked).map((b) => b.value);
      const now = new Set(enhancedList(stream.summary));
      const add = want.filter((m) => !now.has(m));
      const remove = [...now].filter((m) => !want.includes(m));
      if (add.length) await kinesis('EnableEnhancedMonitoring', { StreamName: name, ShardLevelMetrics: add });
      if (remove.length) await kinesis('DisableEnhancedMonitoring', { StreamName: name, ShardLevelMetrics: remove });
      await stream.reload();
      return add.length || remove.length ? `Shard-level metrics: ${want.length ? want.join(', ') : 'none'}.` : 'Unchanged.';
    },
  );

  // Capacity mode
  const mode = s.StreamModeDetails?.StreamMode || 'PROVISIONED';
  const modeSel = h('select', { testid: 'mode-select' }, ['PROVISIONED', 'ON_DEMAND'].map((m) => h('option', { value: m, selected: m === mode }, m === 'ON_DEMAND' ? 'On-demand' : 'Provisioned')));
  const modeForm = actionForm('mode-form', [field('Capacity mode', modeSel)], 'Save mode', async () => {
    if (modeSel.value === mode) return 'Unchanged.';
    await kinesis('UpdateStreamMode', { StreamARN: stream.summary.StreamARN, StreamModeDetails: { StreamMode: modeSel.value } });
    stream.pollSoon();
    return `Switching to ${modeSel.value}.`;
  });

  // Tags
  const tagsBody = h('tbody', { testid: 'tags-tbody' });
  const tagKey = h('input', { type: 'text', testid: 'tag-key', maxlength: 128 });
  const tagValue = h('input', { type: 'text', testid: 'tag-value', maxlength: 256 });
  const tagsErr = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: 'tags-error' });
  async function loadTags() {
    try {
      const tags = [];
      let start;
      for (let i = 0; i < 20; i++) {
        const out = await kinesis('ListTagsForStream', start ? { StreamName: name, ExclusiveStartTagKey: start } : { StreamName: name });
        tags.push(...(out.Tags || []));
        if (!out.HasMoreTags || !out.Tags?.length) break;
        start = out.Tags[out.Tags.length - 1].Key;
      }
      if (!pg.alive) return;
      clear(tagsBody);
      if (!tags.length) tagsBody.append(h('tr', {}, h('td', { class: 'empty', colspan: 3 }, 'No tags.')));
      for (const t of tags) {
        tagsBody.append(
          h(
            'tr',
            { testid: 'tag-row', dataset: { key: t.Key } },
            h('td', {}, t.Key),
            h('td', {}, t.Value ?? ''),
            h(
              'td',
              { class: 'right' },
              h(
                'button',
                {
                  type: 'button',
                  class: 'small danger',
                  'aria-label': `Remove tag ${t.Key}`,
                  testid: 'tag-remove',
                  onclick: async () => {
                    try {
                      await kinesis('RemoveTagsFromStream', { StreamName: name, TagKeys: [t.Key] });
                      await loadTags();
                    } catch (e) {
                      tagsErr.textContent = errorText(e);
                      tagsErr.hidden = false;
                    }
                  },
                },
                'Remove',
              ),
            ),
          ),
        );
      }
    } catch (e) {
      tagsErr.textContent = errorText(e);
      tagsErr.hidden = false;
    }
  }
  const addTag = actionForm('tag-form', [field('Key', tagKey), field('Value', tagValue)], 'Add tag', async () => {
    tagsErr.hidden = true;
    await kinesis('AddTagsToStream', { StreamName: name, Tags: { [tagKey.value]: tagValue.value } });
    tagKey.value = '';
    tagValue.value = '';
    await loadTags();
    return '';
  });

  function rerender() {
    // Simplest: re-render the whole page (the summary and forms reflect the new state).
    render();
  }

  content.append(
    panel('Data retention', { testid: 'config-retention' }, retention),
    panel('Server-side encryption', { testid: 'config-encryption' }, h('p', { class: 'hint' }, 'Records are encrypted at rest with a data key protected by the server\'s master key; alias/aws/kinesis is always accepted.'), encryption),
    panel('Maximum record size', { testid: 'config-max-record' }, maxRecord),
    panel('Capacity mode', { testid: 'config-mode' }, modeForm),
    panel('Enhanced (shard-level) monitoring', { testid: 'config-enhanced' }, h('p', { class: 'hint' }, 'Shard-level metrics feed the per-shard throughput on the Shards tab.'), monitoring),
    panel('Tags', { testid: 'config-tags' }, h('table', { class: 'grid', testid: 'tags-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Value'), h('th', {}, ''))), tagsBody), tagsErr, h('div', { style: 'margin-top:12px' }, addTag)),
  );
  await loadTags();
}

// ---------------------------------------------------------------------------------------------
// Shards: hash-key space, lineage, per-shard throughput, split / merge / update shard count

const MAX_HASH = (1n << 128n) - 1n;
const SPACE = 1n << 128n;

async function listAllShards(name) {
  const shards = [];
  let token;
  for (let i = 0; i < 200; i++) {
    const out = await kinesis('ListShards', token ? { NextToken: token, MaxResults: 1000 } : { StreamName: name, MaxResults: 1000 });
    shards.push(...(out.Shards || []));
    if (!out.NextToken) break;
    token = out.NextToken;
  }
  return shards;
}

const isOpen = (sh) => !sh.SequenceNumberRange?.EndingSequenceNumber;
const shortId = (id) => `#${Number(id.replace(/\D/g, '')) || 0}`;
const pct = (start, end) => Number(((BigInt(end) - BigInt(start) + 1n) * 1000000n) / SPACE) / 10000;
/** A share of the key space for people: 33.33%, 50%, 0.0015%. */
const pctText = (start, end) => {
  const p = pct(start, end);
  return `${p >= 0.01 ? +p.toFixed(2) : p}%`;
};

function shortKey(k) {
  const s = String(k);
  return s.length > 14 ? `${s.slice(0, 6)}…${s.slice(-6)} (${s.length} digits)` : s;
}

async function shardsTab(content, pg, stream) {
  const name = stream.name;
  const mapSlot = h('div', { testid: 'hash-map' });
  const lineageSlot = h('div', { testid: 'lineage' });
  const tableSlot = h('div', {});
  const actionsSlot = h('div', {});
  const err = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: 'shards-error' });
  content.append(
    err,
    panel('Hash key space (open shards)', { testid: 'hash-panel' }, mapSlot),
    panel('Shard lineage', { testid: 'lineage-panel' }, h('p', { class: 'hint' }, 'Every shard under the shard it came from: a split closes one parent and opens two children; a merge closes two adjacent parents and opens one child (shown under its parent and named in the adjacent parent).'), lineageSlot),
    panel('Open shards', { testid: 'open-shards-panel', flush: true }, tableSlot),
    panel('Resharding', { testid: 'reshard-panel' }, actionsSlot),
  );

  let shards = [];
  let lastKey = '';
  async function load(refreshThroughput = false) {
    try {
      shards = await listAllShards(name);
    } catch (e) {
      if (!pg.alive) return;
      err.textContent = errorText(e);
      err.hidden = false;
      return;
    }
    if (!pg.alive) return;
    err.hidden = true;
    const key = JSON.stringify(shards) + stream.summary.StreamStatus;
    if (key !== lastKey) {
      // The forms are drawn again only when the shards or the status changed (not to lose input).
      lastKey = key;
      drawMap();
      drawLineage();
      drawActions();
      await drawTable();
    } else if (refreshThroughput) await drawTable();
  }

  function colorOf(id) {
    const n = Number(id.replace(/\D/g, '')) || 0;
    return `hsl(${(n * 67) % 360} 55% 42%)`;
  }

  function drawMap() {
    const open = shards.filter(isOpen).sort((a, b) => (BigInt(a.HashKeyRange.StartingHashKey) < BigInt(b.HashKeyRange.StartingHashKey) ? -1 : 1));
    const bar = h(
      'div',
      { class: 'hashbar', testid: 'hash-bar', dataset: { openShards: String(open.length) }, role: 'list', 'aria-label': 'Open shards across the hash key space' },
      open.map((sh) => {
        const p = pct(sh.HashKeyRange.StartingHashKey, sh.HashKeyRange.EndingHashKey);
        return h(
          'div',
          {
            class: 'hashseg',
            role: 'listitem',
            testid: 'hash-segment',
            dataset: { shardId: sh.ShardId, start: sh.HashKeyRange.StartingHashKey, end: sh.HashKeyRange.EndingHashKey },
            style: `flex:0 0 ${p}%;background:${colorOf(sh.ShardId)}`,
            title: `${sh.ShardId}\n${sh.HashKeyRange.StartingHashKey} … ${sh.HashKeyRange.EndingHashKey}\n${pctText(sh.HashKeyRange.StartingHashKey, sh.HashKeyRange.EndingHashKey)} of the key space`,
          },
          p >= 6 ? `${shortId(sh.ShardId)} · ${pctText(sh.HashKeyRange.StartingHashKey, sh.HashKeyRange.EndingHashKey)}` : shortId(sh.ShardId),
        );
      }),
    );
    clear(mapSlot, bar, h('div', { class: 'hashscale' }, h('span', {}, '0'), h('span', {}, '2^127'), h('span', {}, `2^128−1 = ${MAX_HASH}`)), h('p', { class: 'hint' }, `${open.length} open shard${open.length === 1 ? '' : 's'}; a record goes to the shard whose range holds the MD5 of its partition key (or its ExplicitHashKey).`));
  }

  function drawLineage() {
    const byId = new Map(shards.map((s) => [s.ShardId, s]));
    const children = new Map();
    const roots = [];
    for (const s of shards) {
      const parent = s.ParentShardId && byId.has(s.ParentShardId) ? s.ParentShardId : s.AdjacentParentShardId && byId.has(s.AdjacentParentShardId) ? s.AdjacentParentShardId : null;
      if (parent) {
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(s);
      } else roots.push(s);
    }
    const node = (s, depth) => {
      const open = isOpen(s);
      const kids = depth < 64 ? children.get(s.ShardId) || [] : [];
      return h(
        'li',
        {},
        h(
          'div',
          { class: `node ${open ? 'open' : 'closed'}`, style: `--c:${open ? colorOf(s.ShardId) : '#aab7b8'}`, testid: 'lineage-node', dataset: { shardId: s.ShardId, state: open ? 'OPEN' : 'CLOSED', parent: s.ParentShardId || '', adjacentParent: s.AdjacentParentShardId || '' } },
          h('strong', {}, s.ShardId),
          badge(open ? 'OPEN' : 'CLOSED'),
          h('span', { class: 'range', title: `${s.HashKeyRange.StartingHashKey} … ${s.HashKeyRange.EndingHashKey}` }, `${pctText(s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey)} · ${shortKey(s.HashKeyRange.StartingHashKey)} … ${shortKey(s.HashKeyRange.EndingHashKey)}`),
          s.AdjacentParentShardId ? h('span', { class: 'muted' }, `merged from ${s.ParentShardId} + ${s.AdjacentParentShardId}`) : null,
        ),
        kids.length ? h('ul', {}, kids.map((k) => node(k, depth + 1))) : null,
      );
    };
    clear(lineageSlot, h('ul', { class: 'tree', testid: 'lineage-tree' }, roots.map((r) => node(r, 0))));
  }

  async function drawTable() {
    const open = shards.filter(isOpen).sort((a, b) => (BigInt(a.HashKeyRange.StartingHashKey) < BigInt(b.HashKeyRange.StartingHashKey) ? -1 : 1));
    const enabled = new Set(enhancedList(stream.summary));
    const haveShardMetrics = enabled.has('IncomingRecords') || enabled.has('IncomingBytes');
    let throughput = null;
    let tpErr = null;
    if (haveShardMetrics && open.length) {
      const end = Math.ceil(Date.now() / 60000) * 60 + 60;
      const start = end - 6 * 60;
      const queries = [];
      open.forEach((sh, i) => {
        for (const [j, metric] of ['IncomingRecords', 'IncomingBytes', 'OutgoingRecords'].entries()) {
          queries.push({ Id: `s${i}m${j}`, MetricStat: { Metric: { Namespace: 'AWS/Kinesis', MetricName: metric, Dimensions: [{ Name: 'StreamName', Value: name }, { Name: 'ShardId', Value: sh.ShardId }] }, Period: 60, Stat: 'Sum' }, ReturnData: true });
        }
      });
      try {
        throughput = await getAllMetricData(queries, start, end);
      } catch (e) {
        tpErr = e;
      }
    }
    const sumOf = (id) => (throughput?.get(id)?.Values || []).reduce((a, b) => a + b, 0);
    const table = h(
      'table',
      { class: 'grid', testid: 'shards-table' },
      h('thead', {}, h('tr', {}, ['Shard', 'Starting hash key', 'Ending hash key', 'Key space', 'Parent', 'Records in (5 min)', 'Bytes in (5 min)', 'Records out (5 min)'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        open.map((sh, i) =>
          h(
            'tr',
            { testid: 'shard-row', dataset: { shardId: sh.ShardId } },
            h('td', { style: 'white-space:nowrap' }, h('strong', {}, sh.ShardId)),
            h('td', { class: 'mono' }, sh.HashKeyRange.StartingHashKey),
            h('td', { class: 'mono' }, sh.HashKeyRange.EndingHashKey),
            h('td', { class: 'num' }, pctText(sh.HashKeyRange.StartingHashKey, sh.HashKeyRange.EndingHashKey)),
            h('td', { style: 'white-space:nowrap' }, [sh.ParentShardId, sh.AdjacentParentShardId].filter(Boolean).join(' + ') || '—'),
            h('td', { class: 'num', testid: 'shard-records-in' }, throughput ? fmtNumber(sumOf(`s${i}m0`)) : '—'),
            h('td', { class: 'num' }, throughput ? fmtBytes(sumOf(`s${i}m1`)) : '—'),
            h('td', { class: 'num' }, throughput ? fmtNumber(sumOf(`s${i}m2`)) : '—'),
          ),
        ),
      ),
    );
    const note = !haveShardMetrics
      ? h('p', { class: 'hint', testid: 'shard-metrics-hint', style: 'padding:10px 14px' }, 'Per-shard throughput needs shard-level metrics: enable IncomingRecords, IncomingBytes and OutgoingRecords under ', h('a', { href: streamHref(name, 'configuration') }, 'Configuration › Enhanced (shard-level) monitoring'), ' (EnableEnhancedMonitoring).')
      : tpErr
        ? h('div', { class: 'inline-error', testid: 'shard-metrics-error', style: 'margin:10px 14px' }, `Per-shard metrics unavailable: ${errorText(tpErr)}`)
        : null;
    clear(tableSlot, h('div', { class: 'tablewrap' }, table), note);
  }

  function drawActions() {
    const open = shards.filter(isOpen).sort((a, b) => (BigInt(a.HashKeyRange.StartingHashKey) < BigInt(b.HashKeyRange.StartingHashKey) ? -1 : 1));
    const busy = stream.summary.StreamStatus !== 'ACTIVE';
    const after = async (text) => {
      // The forms are drawn again as the shards change, so the outcome goes to the notices.
      notify('success', text);
      await stream.reload();
      stream.pollSoon();
      watchUntilActive();
      return text;
    };

    // Split
    const splitSel = h('select', { testid: 'split-shard' }, open.map((sh) => h('option', { value: sh.ShardId }, sh.ShardId)));
    const splitKey = h('input', { type: 'text', testid: 'split-key', class: 'mono', style: 'width:340px', spellcheck: 'false' });
    const midpoint = () => {
      const sh = open.find((o) => o.ShardId === splitSel.value);
      if (!sh) return '';
      const a = BigInt(sh.HashKeyRange.StartingHashKey);
      const b = BigInt(sh.HashKeyRange.EndingHashKey);
      return (a + (b - a + 1n) / 2n).toString();
    };
    splitKey.value = midpoint();
    splitSel.addEventListener('change', () => (splitKey.value = midpoint()));
    const split = actionForm(
      'split-form',
      [field('Shard to split', splitSel), field('New starting hash key', splitKey, 'Prefilled with the midpoint of the shard\'s range'), h('button', { type: 'button', class: 'small', testid: 'split-midpoint', onclick: () => (splitKey.value = midpoint()) }, 'Midpoint')],
      'Split shard',
      async () => {
        await kinesis('SplitShard', { StreamName: name, ShardToSplit: splitSel.value, NewStartingHashKey: splitKey.value.trim() });
        return after(`Splitting ${splitSel.value} at ${splitKey.value.trim()}.`);
      },
    );

    // Merge adjacent pairs
    const pairs = [];
    for (let i = 0; i + 1 < open.length; i++) {
      if (BigInt(open[i].HashKeyRange.EndingHashKey) + 1n === BigInt(open[i + 1].HashKeyRange.StartingHashKey)) pairs.push([open[i].ShardId, open[i + 1].ShardId]);
    }
    const mergeSel = h('select', { testid: 'merge-pair' }, pairs.map(([a, b]) => h('option', { value: `${a} ${b}` }, `${a} + ${b}`)));
    const merge = actionForm('merge-form', [field('Adjacent shards to merge', mergeSel, pairs.length ? null : 'No two open shards are adjacent')], 'Merge shards', async () => {
      const [a, b] = mergeSel.value.split(' ');
      await kinesis('MergeShards', { StreamName: name, ShardToMerge: a, AdjacentShardToMerge: b });
      return after(`Merging ${a} and ${b}.`);
    });

    // Update shard count
    const target = h('input', { type: 'number', min: 1, value: String(open.length), testid: 'target-shards', style: 'width:120px' });
    const update = actionForm('shard-count-form', [field('Target shard count', target, 'UNIFORM_SCALING: the key space is split evenly')], 'Update shard count', async () => {
      await kinesis('UpdateShardCount', { StreamName: name, TargetShardCount: Number(target.value), ScalingType: 'UNIFORM_SCALING' });
      return after(`Scaling to ${target.value} shards.`);
    });
    for (const f of [split, merge, update]) for (const b of f.querySelectorAll('button[type=submit]')) b.disabled = busy;
    const onDemand = stream.summary.StreamModeDetails?.StreamMode === 'ON_DEMAND';
    clear(
      actionsSlot,
      busy ? h('p', { class: 'hint', testid: 'reshard-busy' }, `The stream is ${stream.summary.StreamStatus}; resharding waits until it is ACTIVE again.`) : null,
      onDemand ? h('p', { class: 'hint', testid: 'reshard-on-demand' }, 'This stream is on-demand: it adds and merges shards by itself, and AWS refuses SplitShard, MergeShards and UpdateShardCount for it. Switch it to provisioned under Configuration to reshard by hand.') : null,
      h('h3', {}, 'Split a shard'),
      split,
      h('h3', { style: 'margin-top:18px' }, 'Merge two adjacent shards'),
      merge,
      h('h3', { style: 'margin-top:18px' }, 'Update shard count'),
      update,
    );
  }

  let watching = false;
  function watchUntilActive() {
    if (watching) return;
    watching = true;
    let n = 0;
    const tick = async () => {
      n++;
      try {
        const s = stream.summary;
        await load();
        if (s.StreamStatus === 'ACTIVE' && n > 1) {
          watching = false;
          return;
        }
      } catch {
        /* shown by load */
      }
      if (n < 600) pg.later(1000, tick);
      else watching = false;
    };
    pg.later(200, tick);
  }

  stream.listeners.push(() => {
    load();
  });
  await load();
  if (stream.summary.StreamStatus !== 'ACTIVE') watchUntilActive();
  const slow = () => pg.later(15000, async () => {
    await load(true);
    slow();
  });
  slow();
}

// ---------------------------------------------------------------------------------------------
// Data viewer: GetShardIterator + GetRecords, follow mode, put a test record

function b64ToBytes(b64) {
  const bin = atob(b64 || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToB64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function hexDump(bytes) {
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hx = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const asc = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hx.padEnd(47)}  ${asc}`);
  }
  return lines.join('\n') || '(empty)';
}

function renderData(bytes, format) {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (format === 'hex') return hexDump(bytes);
  if (format === 'json') {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return `(not JSON) ${text}`;
    }
  }
  return text;
}

async function dataTab(content, pg, stream) {
  const name = stream.name;
  let shards = [];
  try {
    shards = await listAllShards(name);
  } catch (e) {
    content.append(h('div', { class: 'inline-error', role: 'alert' }, errorText(e)));
    return;
  }
  const shardSel = h(
    'select',
    { testid: 'data-shard', name: 'shard' },
    shards.map((sh) => h('option', { value: sh.ShardId }, `${sh.ShardId}${isOpen(sh) ? '' : ' (closed)'}`)),
  );
  const position = h(
    'select',
    { testid: 'data-position', name: 'position' },
    ['TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER', 'AT_TIMESTAMP'].map((p) => h('option', { value: p }, p)),
  );
  const seq = h('input', { type: 'text', testid: 'data-seq', class: 'mono', style: 'width:380px', spellcheck: 'false' });
  const ts = h('input', { type: 'datetime-local', step: 1, testid: 'data-timestamp' });
  const limit = h('input', { type: 'number', min: 1, max: 10000, value: '100', testid: 'data-limit', style: 'width:100px' });
  const seqField = field('Sequence number', seq);
  const tsField = field('Timestamp (local time)', ts);
  const syncPos = () => {
    seqField.hidden = !position.value.includes('SEQUENCE');
    tsField.hidden = position.value !== 'AT_TIMESTAMP';
  };
  position.addEventListener('change', syncPos);
  syncPos();
  const err = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: 'data-error' });
  const status = h('span', { class: 'hint', testid: 'data-status', role: 'status' });
  const getBtn = h('button', { type: 'submit', class: 'primary', testid: 'data-get' }, 'Get records');
  const followBtn = h('button', { type: 'button', testid: 'data-follow', 'aria-pressed': 'false' }, 'Follow');
  const moreBtn = h('button', { type: 'button', testid: 'data-more', hidden: true, title: 'GetRecords once more with the last NextShardIterator' }, 'Get more');
  let format = localStorage.getItem('shardline.console.format') || 'text';
  const fmtButtons = ['text', 'json', 'hex'].map((f) =>
    h(
      'button',
      {
        type: 'button',
        testid: `format-${f}`,
        'aria-pressed': String(f === format),
        onclick: () => {
          format = f;
          localStorage.setItem('shardline.console.format', f);
          for (const b of fmtButtons) b.setAttribute('aria-pressed', String(b.dataset.testid === `format-${f}`));
          redraw();
        },
      },
      f === 'json' ? 'JSON' : f === 'hex' ? 'Hex' : 'Text',
    ),
  );
  const tbody = h('tbody', { testid: 'records-tbody' });
  const count = h('span', { class: 'counter', testid: 'records-count' }, '(0)');

  const form = h(
    'form',
    { testid: 'data-form', onsubmit: (ev) => { ev.preventDefault(); start(false); } },
    h('div', { class: 'form-row' }, field('Shard', shardSel), field('Starting position', position), seqField, tsField, field('Records per call', limit), getBtn, moreBtn, followBtn),
    err,
  );

  // Put a test record
  const pk = h('input', { type: 'text', testid: 'put-key', value: 'console', required: true });
  const payload = h('textarea', { testid: 'put-data', rows: 3 }, '');
  payload.value = '{"hello":"world"}';
  const ehk = h('input', { type: 'text', testid: 'put-hash-key', class: 'mono', style: 'width:340px', placeholder: 'optional' });
  const putForm = actionForm('put-form', [field('Partition key', pk), h('div', { class: 'field wide' }, field('Data (UTF-8 text)', payload)), field('Explicit hash key', ehk)], 'Put record', async () => {
    const body = { StreamName: name, PartitionKey: pk.value, Data: bytesToB64(new TextEncoder().encode(payload.value)) };
    if (ehk.value.trim()) body.ExplicitHashKey = ehk.value.trim();
    const out = await kinesis('PutRecord', body);
    return `Put into ${out.ShardId}, sequence number ${out.SequenceNumber}.`;
  });

  content.append(
    panel('Data viewer', { testid: 'data-viewer', actions: [h('div', { class: 'segmented', role: 'group', 'aria-label': 'Show data as' }, fmtButtons)] }, form, status),
    h(
      'section',
      { class: 'panel', testid: 'records-panel' },
      h('header', {}, h('h2', {}, 'Records ', count), h('div', { class: 'actions' }, h('button', { type: 'button', class: 'small', testid: 'records-clear', onclick: () => { records = []; dropped = 0; redraw(); } }, 'Clear'))),
      h(
        'div',
        { class: 'body flush' },
        h('table', { class: 'grid records', testid: 'records-table' }, h('thead', {}, h('tr', {}, ['#', 'Partition key', 'Sequence number', 'Arrival time', 'Data'].map((c) => h('th', { scope: 'col' }, c)))), tbody),
      ),
    ),
    panel('Put a test record', { testid: 'put-panel' }, putForm),
  );

  let records = [];
  let iterator = null;
  let following = false;
  let followTimer = null;
  let generation = 0;

  // The page keeps the newest MAX_SHOWN records (follow mode can run for hours).
  const MAX_SHOWN = 2000;
  let dropped = 0;
  function trim() {
    if (records.length > MAX_SHOWN) {
      dropped += records.length - MAX_SHOWN;
      records.splice(0, records.length - MAX_SHOWN);
    }
  }

  function rowFor(r, i) {
    const bytes = b64ToBytes(r.Data);
    return h(
      'tr',
      { testid: 'record-row', dataset: { seq: r.SequenceNumber, key: r.PartitionKey } },
      h('td', { class: 'num' }, String(dropped + i + 1)),
      h('td', { testid: 'record-key' }, r.PartitionKey),
      h('td', { class: 'seq', testid: 'record-seq' }, r.SequenceNumber),
      h('td', { testid: 'record-time' }, fmtTime(r.ApproximateArrivalTimestamp), r.EncryptionType === 'KMS' ? h('div', { class: 'hint' }, 'encrypted at rest (KMS)') : null),
      h('td', { class: 'data' }, h('pre', { testid: 'record-data', dataset: { format } }, renderData(bytes, format)), h('div', { class: 'hint' }, `${bytes.length} bytes`)),
    );
  }

  function redraw() {
    trim();
    count.textContent = dropped ? `(${records.length}; ${dropped} older not shown)` : `(${records.length})`;
    clear(tbody);
    if (!records.length) tbody.append(h('tr', {}, h('td', { class: 'empty', colspan: 5 }, 'No records shown. Choose a shard and a position, then Get records or Follow.')));
    const frag = document.createDocumentFragment();
    records.forEach((r, i) => frag.append(rowFor(r, i)));
    tbody.append(frag);
  }

  /** Adds records at the end without drawing the others again. */
  function appendRecords(got) {
    const before = records.length;
    records.push(...got);
    if (before === 0 || records.length > MAX_SHOWN) {
      redraw();
      return;
    }
    got.forEach((r, j) => tbody.append(rowFor(r, before + j)));
    count.textContent = dropped ? `(${records.length}; ${dropped} older not shown)` : `(${records.length})`;
  }
  redraw();

  function setFollowing(on) {
    following = on;
    followBtn.setAttribute('aria-pressed', String(on));
    followBtn.classList.toggle('on', on);
    followBtn.textContent = on ? 'Stop following' : 'Follow';
    if (!on && followTimer) {
      pg.cancel(followTimer);
      followTimer = null;
    }
  }
  followBtn.addEventListener('click', () => {
    if (following) {
      setFollowing(false);
      status.textContent = `Stopped following. ${records.length} records shown.`;
      moreBtn.hidden = !iterator;
    } else start(true);
  });

  async function getIterator() {
    const body = { StreamName: name, ShardId: shardSel.value, ShardIteratorType: position.value };
    if (position.value.includes('SEQUENCE')) body.StartingSequenceNumber = seq.value.trim();
    if (position.value === 'AT_TIMESTAMP') {
      const t = ts.value ? new Date(ts.value).getTime() / 1000 : Date.now() / 1000 - 3600;
      body.Timestamp = t;
    }
    return (await kinesis('GetShardIterator', body)).ShardIterator;
  }

  /** One GetRecords call; waits out throttling once. */
  async function getOnce() {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await kinesis('GetRecords', { ShardIterator: iterator, Limit: Number(limit.value) || 100 });
      } catch (e) {
        if (e.type === 'ProvisionedThroughputExceededException' && attempt < 2) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        throw e;
      }
    }
    return null;
  }

  moreBtn.addEventListener('click', async () => {
    if (!iterator || following) return;
    const gen = generation;
    moreBtn.disabled = true;
    err.hidden = true;
    try {
      const out = await getOnce();
      if (gen !== generation || !pg.alive) return;
      const got = out.Records || [];
      records.push(...got);
      iterator = out.NextShardIterator || null;
      redraw();
      status.textContent = `${got.length} more; ${records.length} record${records.length === 1 ? '' : 's'} from ${shardSel.value}.${iterator ? '' : ' The shard is closed and fully read.'}`;
      moreBtn.hidden = !iterator;
    } catch (e) {
      err.textContent = errorText(e);
      err.hidden = false;
    } finally {
      moreBtn.disabled = false;
    }
  });

  async function start(follow) {
    const gen = ++generation;
    moreBtn.hidden = true;
    setFollowing(false);
    err.hidden = true;
    records = [];
    dropped = 0;
    redraw();
    getBtn.disabled = true;
    status.textContent = 'Reading…';
    try {
      iterator = await getIterator();
      // Read until caught up (bounded): a few calls may come back empty before the data.
      for (let i = 0; i < 10 && iterator; i++) {
        const out = await getOnce();
        if (gen !== generation || !pg.alive) return;
        records.push(...(out.Records || []));
        iterator = out.NextShardIterator || null;
        if ((out.Records || []).length === 0 && (out.MillisBehindLatest ?? 0) === 0) break;
        if (!follow && records.length >= (Number(limit.value) || 100)) break;
        if ((out.Records || []).length) await new Promise((r) => setTimeout(r, 220)); // stay under 5 calls/s
      }
      redraw();
      status.textContent = `${records.length} record${records.length === 1 ? '' : 's'} from ${shardSel.value} (${position.value}).${iterator ? '' : ' The shard is closed and fully read.'}`;
      moreBtn.hidden = !iterator || follow;
      if (follow && iterator) {
        setFollowing(true);
        status.append(h('span', { class: 'following', testid: 'following' }, ' Following: new records appear as they arrive (GetRecords every second).'));
        followTimer = pg.later(1000, () => followTick(gen));
      }
    } catch (e) {
      if (gen !== generation) return;
      err.textContent = errorText(e);
      err.hidden = false;
      status.textContent = '';
    } finally {
      getBtn.disabled = false;
    }
  }

  async function followTick(gen) {
    if (!following || gen !== generation) return;
    let delay = 1000;
    try {
      const out = await getOnce();
      if (!following || gen !== generation || !pg.alive) return;
      const got = out.Records || [];
      if (got.length) {
        appendRecords(got);
        if (status.firstChild && status.firstChild.nodeType === Node.TEXT_NODE) {
          status.firstChild.textContent = `${records.length} record${records.length === 1 ? '' : 's'} from ${shardSel.value} (${position.value}).`;
        }
      }
      iterator = out.NextShardIterator || null;
      if (!iterator) {
        setFollowing(false);
        status.textContent = `The shard is closed and fully read (${records.length} records).`;
        return;
      }
    } catch (e) {
      if (e.type === 'ExpiredIteratorException') {
        try {
          // Go on after the last record shown (or from the chosen position if none came yet).
          const last = records[records.length - 1];
          iterator = last
            ? (await kinesis('GetShardIterator', { StreamName: name, ShardId: shardSel.value, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: last.SequenceNumber })).ShardIterator
            : await getIterator();
        } catch (e2) {
          err.textContent = errorText(e2);
          err.hidden = false;
        }
      } else {
        err.textContent = errorText(e);
        err.hidden = false;
        delay = 3000;
      }
    }
    if (following && gen === generation) followTimer = pg.later(delay, () => followTick(gen));
  }
}

// ---------------------------------------------------------------------------------------------
// Consumers (enhanced fan-out) and the consumer library's leases (DynamoDB)

async function consumersTab(content, pg, stream) {
  const arn = stream.summary.StreamARN;
  const tbody = h('tbody', { testid: 'consumers-tbody' });
  const err = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: 'consumers-error' });
  const consumerName = h('input', { type: 'text', testid: 'consumer-name', required: true, maxlength: 128, spellcheck: 'false' });
  const register = actionForm('register-form', [field('Consumer name', consumerName)], 'Register consumer', async () => {
    const out = await kinesis('RegisterStreamConsumer', { StreamARN: arn, ConsumerName: consumerName.value.trim() });
    consumerName.value = '';
    await load();
    return `Registered ${out.Consumer?.ConsumerName}.`;
  });
  content.append(
    panel(
      'Enhanced fan-out consumers',
      { testid: 'consumers-panel', flush: true },
      err,
      h('table', { class: 'grid', testid: 'consumers-table' }, h('thead', {}, h('tr', {}, ['Name', 'Status', 'ARN', 'Registered', ''].map((c) => h('th', { scope: 'col' }, c)))), tbody),
      h('div', { style: 'padding:14px 20px;border-top:1px solid var(--line)' }, register),
    ),
  );
  content.append(leasesPanel(pg, stream));

  let timer = null;
  async function load() {
    if (timer) pg.cancel(timer);
    let transitional = false;
    try {
      const consumers = [];
      let token;
      for (let i = 0; i < 20; i++) {
        const out = await kinesis('ListStreamConsumers', token ? { StreamARN: arn, NextToken: token } : { StreamARN: arn });
        consumers.push(...(out.Consumers || []));
        if (!out.NextToken) break;
        token = out.NextToken;
      }
      if (!pg.alive) return;
      err.hidden = true;
      clear(tbody);
      if (!consumers.length) tbody.append(h('tr', {}, h('td', { class: 'empty', colspan: 5 }, 'No consumers registered.')));
      for (const c of consumers) {
        if (c.ConsumerStatus !== 'ACTIVE') transitional = true;
        tbody.append(
          h(
            'tr',
            { testid: 'consumer-row', dataset: { consumer: c.ConsumerName, status: c.ConsumerStatus } },
            h('td', {}, h('strong', {}, c.ConsumerName)),
            h('td', {}, badge(c.ConsumerStatus)),
            h('td', { class: 'mono' }, c.ConsumerARN),
            h('td', {}, fmtTime(c.ConsumerCreationTimestamp)),
            h(
              'td',
              { class: 'right' },
              c.ConsumerStatus === 'DELETING'
                ? null
                : h(
                    'button',
                    {
                      type: 'button',
                      class: 'small danger',
                      testid: 'deregister-consumer',
                      'aria-label': `Deregister consumer ${c.ConsumerName}`,
                      onclick: () =>
                        modal({
                          title: `Deregister ${c.ConsumerName}?`,
                          body: h('p', {}, 'Its subscriptions end and its ARN stops working.'),
                          confirmText: 'Deregister',
                          danger: true,
                          onConfirm: async () => {
                            await kinesis('DeregisterStreamConsumer', { ConsumerARN: c.ConsumerARN });
                            await load();
                          },
                        }),
                    },
                    'Deregister',
                  ),
            ),
          ),
        );
      }
    } catch (e) {
      if (!pg.alive) return;
      err.textContent = errorText(e);
      err.hidden = false;
    }
    if (pg.alive) timer = pg.later(transitional ? 1000 : 5000, load);
  }
  await load();
}

function attr(v) {
  // A DynamoDB attribute value ({S}, {N}, {SS}, …) as text.
  if (!v || typeof v !== 'object') return '';
  if ('S' in v) return v.S;
  if ('N' in v) return v.N;
  if ('BOOL' in v) return String(v.BOOL);
  if ('SS' in v) return v.SS.join(', ');
  if ('NS' in v) return v.NS.join(', ');
  if ('NULL' in v) return 'null';
  return JSON.stringify(v);
}

function leasesPanel(pg, stream) {
  const endpoint = h('input', { type: 'url', testid: 'leases-endpoint', style: 'width:300px', placeholder: 'http://127.0.0.1:8000', value: localStorage.getItem('shardline.console.leases.endpoint') || '' });
  const table = h('input', { type: 'text', testid: 'leases-table', style: 'width:220px', placeholder: 'my-application', value: localStorage.getItem(`shardline.console.leases.table.${stream.name}`) || localStorage.getItem('shardline.console.leases.table') || '' });
  const region = h('input', { type: 'text', testid: 'leases-region', style: 'width:140px', value: localStorage.getItem('shardline.console.leases.region') || (credentials()?.region ?? CONFIG.region) });
  const tbody = h('tbody', { testid: 'leases-tbody' });
  const out = h('div', {}, h('table', { class: 'grid', testid: 'leases-grid' }, h('thead', {}, h('tr', {}, ['leaseKey', 'leaseOwner', 'checkpoint', 'leaseCounter', 'parentShardId', 'ownerSwitchesSinceCheckpoint'].map((c) => h('th', { scope: 'col', class: ['leaseCounter', 'ownerSwitchesSinceCheckpoint'].includes(c) ? 'num' : null }, c)))), tbody));
  const form = actionForm(
    'leases-form',
    [field('DynamoDB endpoint URL', endpoint), field('Lease table', table, 'The application name of a KCL or shardline consume worker'), field('Region', region)],
    'Scan leases',
    async () => {
      const url = endpoint.value.trim().replace(/\/+$/, '');
      localStorage.setItem('shardline.console.leases.endpoint', url);
      localStorage.setItem('shardline.console.leases.table', table.value.trim());
      localStorage.setItem(`shardline.console.leases.table.${stream.name}`, table.value.trim());
      localStorage.setItem('shardline.console.leases.region', region.value.trim());
      const items = [];
      let start;
      for (let i = 0; i < 50; i++) {
        const body = { TableName: table.value.trim(), Limit: 1000 };
        if (start) body.ExclusiveStartKey = start;
        let r;
        try {
          r = await send(`${url}/`, {
            headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.Scan' },
            body: JSON.stringify(body),
            service: 'dynamodb',
            region: region.value.trim(),
            // Without a key of its own the console still signs (with a placeholder key): servers
            // such as moto tell DynamoDB from S3 by the signature's credential scope.
            creds: credentials() || { accessKeyId: 'shardline-console', secretAccessKey: 'shardline-console' },
          });
        } catch (e) {
          throw new Error(
            `The browser could not call ${url}/ (${e.message}). Either nothing listens there, or the DynamoDB server does not allow cross-origin requests from ${location.origin} (CORS: it must answer the OPTIONS preflight with Access-Control-Allow-Origin and allow the headers Content-Type, X-Amz-Target, X-Amz-Date and Authorization).`,
          );
        }
        const json = await awsJson(r);
        items.push(...(json.Items || []));
        if (!json.LastEvaluatedKey) break;
        start = json.LastEvaluatedKey;
      }
      clear(tbody);
      if (!items.length) tbody.append(h('tr', {}, h('td', { class: 'empty', colspan: 6 }, 'The table has no leases.')));
      items.sort((a, b) => attr(a.leaseKey).localeCompare(attr(b.leaseKey)));
      for (const it of items) {
        const cp = attr(it.checkpoint);
        const sub = it.checkpointSubSequenceNumber ? attr(it.checkpointSubSequenceNumber) : '';
        tbody.append(
          h(
            'tr',
            { testid: 'lease-row', dataset: { leaseKey: attr(it.leaseKey) } },
            h('td', { class: 'mono' }, attr(it.leaseKey)),
            h('td', {}, attr(it.leaseOwner) || h('span', { class: 'muted' }, '(free)')),
            h('td', { class: 'mono' }, cp + (sub && sub !== '0' ? ` / ${sub}` : '')),
            h('td', { class: 'num' }, attr(it.leaseCounter)),
            h('td', { class: 'mono' }, attr(it.parentShardId)),
            h('td', { class: 'num' }, attr(it.ownerSwitchesSinceCheckpoint)),
          ),
        );
      }
      return `${items.length} lease${items.length === 1 ? '' : 's'} in ${table.value.trim()}, read at ${new Date().toLocaleTimeString()}.`;
    },
  );
  void pg;
  return panel(
    'Consumer application leases (DynamoDB)',
    { testid: 'leases-panel' },
    h('p', { class: 'hint' }, 'KCL-style workers (the Java KCL, shardline consume) keep one lease per shard in a DynamoDB table. When that table is reachable from this browser, the console reads it with Scan, signed for service dynamodb', credentials() ? ' with your key' : ' with a placeholder key (local servers such as moto accept any key)', '. The DynamoDB server must allow CORS from this page.'),
    form,
    out,
  );
}

// ---------------------------------------------------------------------------------------------
// Fault injection

const OPERATIONS = [
  'AddTagsToStream', 'CreateStream', 'DecreaseStreamRetentionPeriod', 'DeleteStream', 'DeregisterStreamConsumer', 'DescribeLimits', 'DescribeStream', 'DescribeStreamConsumer',
  'DescribeStreamSummary', 'DisableEnhancedMonitoring', 'EnableEnhancedMonitoring', 'GetRecords', 'GetShardIterator', 'IncreaseStreamRetentionPeriod', 'ListShards',
  'ListStreamConsumers', 'ListStreams', 'ListTagsForStream', 'MergeShards', 'PutRecord', 'PutRecords', 'RegisterStreamConsumer', 'RemoveTagsFromStream', 'SplitShard',
  'StartStreamEncryption', 'StopStreamEncryption', 'SubscribeToShard', 'UpdateShardCount', 'UpdateStreamMode',
];
const ERRORS = [
  'ProvisionedThroughputExceededException', 'InternalFailureException', 'ServiceUnavailableException', 'LimitExceededException', 'ResourceNotFoundException',
  'ResourceInUseException', 'ExpiredIteratorException', 'KMSThrottlingException', 'AccessDeniedException', 'ValidationException',
];

async function faultsPage(app, pg) {
  document.title = 'Fault injection · shardline console';
  app.append(h('div', { class: 'crumbs' }, 'shardline › Fault injection'), h('h1', {}, 'Fault injection'));
  const tbody = h('tbody', { testid: 'faults-tbody' });
  const count = h('span', { class: 'counter', testid: 'faults-count' });
  const err = h('div', { class: 'inline-error', role: 'alert', hidden: true, testid: 'faults-error' });

  let streams = [];
  try {
    streams = (await listAllStreams()).map((s) => s.StreamName);
  } catch {
    /* the list only feeds suggestions */
  }
  const dl = (id, values) => h('datalist', { id }, values.map((v) => h('option', { value: v })));
  const inputs = {
    operation: h('input', { type: 'text', list: 'dl-ops', testid: 'fault-operation', placeholder: 'any', style: 'width:220px' }),
    stream: h('input', { type: 'text', list: 'dl-streams', testid: 'fault-stream', placeholder: 'any', style: 'width:160px' }),
    shard: h('input', { type: 'text', testid: 'fault-shard', placeholder: 'any', style: 'width:190px' }),
    error: h('input', { type: 'text', list: 'dl-errors', testid: 'fault-error', placeholder: 'none', style: 'width:300px' }),
    latency_ms: h('input', { type: 'number', min: 0, testid: 'fault-latency', style: 'width:110px' }),
    probability: h('input', { type: 'number', min: 0, max: 1, step: 'any', testid: 'fault-probability', style: 'width:110px' }),
    every: h('input', { type: 'number', min: 1, testid: 'fault-every', style: 'width:90px' }),
    duration_secs: h('input', { type: 'number', min: 1, testid: 'fault-duration', style: 'width:110px' }),
  };
  const addForm = actionForm(
    'fault-form',
    [
      field('Operation', inputs.operation),
      field('Stream', inputs.stream),
      field('Shard', inputs.shard),
      field('Error type', inputs.error),
      field('Latency (ms)', inputs.latency_ms),
      field('Probability (0–1)', inputs.probability),
      field('Every Nth call', inputs.every),
      field('Expires after (s)', inputs.duration_secs),
    ],
    'Add rule',
    async () => {
      const rule = {};
      for (const [k, el] of Object.entries(inputs)) {
        const v = el.value.trim();
        if (v === '') continue;
        rule[k] = el.type === 'number' ? Number(v) : v;
      }
      const out = await admin('POST', '/_shardline/faults', rule);
      for (const el of Object.values(inputs)) el.value = '';
      await load(true);
      return `Added rule ${out?.id}.`;
    },
  );
  app.append(
    dl('dl-ops', OPERATIONS),
    dl('dl-errors', ERRORS),
    dl('dl-streams', streams),
    h(
      'section',
      { class: 'panel', testid: 'faults-panel' },
      h('header', {}, h('h2', {}, 'Rules ', count), h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', testid: 'faults-refresh', onclick: () => load(true) }, '↻ Refresh'),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              testid: 'faults-clear',
              onclick: () =>
                modal({
                  title: 'Remove every rule?',
                  body: h('p', {}, 'Requests are answered normally again.'),
                  confirmText: 'Remove all',
                  danger: true,
                  onConfirm: async () => {
                    await admin('DELETE', '/_shardline/faults');
                    await load(true);
                  },
                }),
            },
            'Remove all',
          ),
        ),
      ),
      h(
        'div',
        { class: 'body flush' },
        err,
        h('table', { class: 'grid', testid: 'faults-table' }, h('thead', {}, h('tr', {}, ['ID', 'Operation', 'Stream', 'Shard', 'Error', 'Latency', 'Probability', 'Every', 'Expires after', 'Fired', ''].map((c) => h('th', { scope: 'col' }, c)))), tbody),
      ),
    ),
    panel('Add a rule', { testid: 'fault-add-panel' }, h('p', { class: 'hint' }, 'A rule makes matching requests fail with an AWS error and/or answer late: give an error, a latency, or both. Empty fields match anything.'), addForm),
  );

  let last = '';
  let timer = null;
  async function load(force = false) {
    if (timer) pg.cancel(timer);
    try {
      const rules = await admin('GET', '/_shardline/faults');
      if (!pg.alive) return;
      err.hidden = true;
      const key = JSON.stringify(rules);
      if (force || key !== last) {
        last = key;
        count.textContent = `(${rules.length})`;
        clear(tbody);
        if (!rules.length) tbody.append(h('tr', {}, h('td', { class: 'empty', colspan: 11 }, 'No rules: every request is answered normally.')));
        for (const r of rules) {
          const any = (v) => (v === null || v === undefined ? h('span', { class: 'muted' }, 'any') : v);
          const none = (v, suffix = '') => (v === null || v === undefined ? h('span', { class: 'muted' }, '—') : `${v}${suffix}`);
          tbody.append(
            h(
              'tr',
              { testid: 'fault-row', dataset: { id: String(r.id) } },
              h('td', {}, String(r.id)),
              h('td', {}, any(r.operation)),
              h('td', {}, any(r.stream)),
              h('td', {}, any(r.shard)),
              h('td', {}, none(r.error)),
              h('td', {}, none(r.latency_ms, ' ms')),
              h('td', {}, none(r.probability)),
              h('td', {}, none(r.every)),
              h('td', {}, none(r.duration_secs, ' s')),
              h('td', { class: 'num', testid: 'fault-fired' }, String(r.fired ?? 0)),
              h(
                'td',
                { class: 'right' },
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'small danger',
                    testid: 'fault-remove',
                    'aria-label': `Remove rule ${r.id}`,
                    onclick: async (ev) => {
                      ev.target.disabled = true;
                      try {
                        await admin('DELETE', `/_shardline/faults/${r.id}`);
                        notify('success', `Removed rule ${r.id}.`);
                      } catch (e) {
                        err.textContent = errorText(e);
                        err.hidden = false;
                      }
                      await load(true);
                    },
                  },
                  'Remove',
                ),
              ),
            ),
          );
        }
      }
    } catch (e) {
      if (!pg.alive) return;
      err.textContent = errorText(e);
      err.hidden = false;
    }
    if (pg.alive) timer = pg.later(3000, () => load());
  }
  await load(true);
}

// ---------------------------------------------------------------------------------------------
// Metrics: every namespace the history holds (AWS/Kinesis, and what the KPL, the KCL, the Agent or
// an application published with PutMetricData), any metric graphed with the statistic asked

const STATS = ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'];

/** ListMetrics over its pages (at most 20 of 500). */
async function listAllMetrics() {
  const all = [];
  let token;
  for (let i = 0; i < 20; i++) {
    const out = await cloudwatch('ListMetrics', token ? { NextToken: token } : {});
    all.push(...(out.Metrics || []));
    if (!out.NextToken) break;
    token = out.NextToken;
  }
  return all;
}

const dimsText = (dims) => (dims && dims.length ? dims.map((d) => `${d.Name}=${d.Value}`).join(', ') : '(no dimensions)');

async function metricsPage(app, pg, route) {
  document.title = 'Metrics · shardline console';
  app.append(h('div', { class: 'crumbs' }, 'shardline › Metrics'), h('h1', {}, 'Metrics'));
  const metrics = await listAllMetrics();
  const namespaces = [...new Set(metrics.map((m) => m.Namespace))].sort();
  if (!namespaces.length) {
    app.append(panel('Metrics', { testid: 'metrics-empty' }, h('p', {}, 'No metrics yet: they appear as streams are used, or when a client publishes them with PutMetricData.')));
    return;
  }
  const ns = namespaces.includes(route.namespace) ? route.namespace : namespaces.find((n) => !n.startsWith('AWS/')) || namespaces[0];
  const nsSelect = h('select', { testid: 'metrics-namespace', name: 'namespace' }, namespaces.map((n) => h('option', { value: n, selected: n === ns }, n)));
  nsSelect.addEventListener('change', () => {
    location.hash = `#/metrics/${encodeURIComponent(nsSelect.value)}`;
  });
  const statSelect = h('select', { testid: 'metrics-stat', name: 'stat' }, STATS.map((st) => h('option', { value: st }, st)));
  const winSelect = h('select', { testid: 'metrics-window', name: 'window' }, WINDOWS.map((w) => h('option', { value: w.id, selected: w.id === '1h' }, w.label)));
  const filter = h('input', { type: 'search', testid: 'metrics-filter', placeholder: 'Filter by name or dimension', 'aria-label': 'Filter metrics' });
  const inNs = metrics.filter((m) => m.Namespace === ns).sort((a, b) => a.MetricName.localeCompare(b.MetricName) || dimsText(a.Dimensions).localeCompare(dimsText(b.Dimensions)));
  const tbody = h('tbody', { testid: 'metrics-tbody' });
  const graph = h('div', { class: 'charts single', testid: 'metric-graph' });
  let chosen = null;
  function rows() {
    const f = filter.value.trim().toLowerCase();
    clear(tbody);
    for (const m of inNs) {
      const text = `${m.MetricName} ${dimsText(m.Dimensions)}`;
      if (f && !text.toLowerCase().includes(f)) continue;
      const row = h(
        'tr',
        { class: chosen === m ? 'selected' : '', testid: 'metric-row', dataset: { metric: m.MetricName, dims: dimsText(m.Dimensions) } },
        h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => choose(m) }, m.MetricName)),
        h('td', {}, dimsText(m.Dimensions)),
      );
      tbody.append(row);
    }
  }
  let timer = null;
  async function draw() {
    if (timer) pg.cancel(timer);
    if (!chosen) return;
    const win = WINDOWS.find((w) => w.id === winSelect.value) || WINDOWS[1];
    const end = Math.ceil(Date.now() / 1000 / win.period) * win.period + win.period;
    const start = end - win.seconds - win.period;
    const stat = statSelect.value;
    let r = null;
    let error = null;
    try {
      const out = await getAllMetricData(
        [{ Id: 'm0', MetricStat: { Metric: { Namespace: ns, MetricName: chosen.MetricName, Dimensions: chosen.Dimensions || [] }, Period: win.period, Stat: stat }, ReturnData: true }],
        start,
        end,
      );
      r = out.get('m0');
    } catch (e) {
      error = e;
    }
    if (!pg.alive) return;
    const series = [{ label: `${chosen.MetricName} (${stat})`, metric: chosen.MetricName, stat, timestamps: r?.Timestamps || [], values: r?.Values || [], status: r?.StatusCode, fillZero: stat === 'Sum' || stat === 'SampleCount' }];
    clear(graph, chart({ id: 'metric', title: `${chosen.MetricName}`, unit: `${dimsText(chosen.Dimensions)} · ${stat}`, kind: 'line', series, start, end, period: win.period, error }));
    if (error) graph.append(h('div', { class: 'inline-error', role: 'alert' }, errorText(error)));
    timer = pg.later(win.period < 60 ? 5000 : 20000, draw);
  }
  function choose(m) {
    chosen = m;
    rows();
    draw();
  }
  filter.addEventListener('input', rows);
  statSelect.addEventListener('change', draw);
  winSelect.addEventListener('change', draw);
  rows();
  app.append(
    panel(
      'Graph',
      { testid: 'metrics-graph-panel', actions: [field('Statistic', statSelect), field('Time range', winSelect)] },
      graph,
      h('p', { class: 'hint' }, 'Pick a metric below. Metrics come from GetMetricData, the CloudWatch API the server answers.'),
    ),
    panel(`${ns}`, { testid: 'metrics-list', counter: inNs.length, actions: [field('Namespace', nsSelect), filter] }, h('table', { class: 'grid', testid: 'metrics-table' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Metric'), h('th', { scope: 'col' }, 'Dimensions'))), tbody)),
  );
  if (inNs.length) choose(inNs[0]);
}

// ---------------------------------------------------------------------------------------------
// Start

async function main() {
  try {
    const r = await fetch('config.json', { cache: 'no-store' });
    Object.assign(CONFIG, await r.json());
  } catch (e) {
    notify('error', `Could not read config.json: ${errorText(e)}`);
  }
  $('[data-testid=version]').textContent = `shardline ${CONFIG.version} · ${CONFIG.auth === 'sigv4' ? 'SigV4 authentication' : 'no authentication'}`;
  $('[data-testid=sign-out]').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    clearNotices();
    location.hash = '#/signin';
    render();
  });
  if (!location.hash) history.replaceState(null, '', '#/streams');
  window.addEventListener('hashchange', () => render());
  document.body.dataset.ready = 'true';
  await render();
}

main();
