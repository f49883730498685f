// ordersettle dashboard: lists settlement jobs newest first, queues, cancels
// and retries them, and keeps unfinished jobs up to date. It calls only the
// public API (the same paths as the OpenAPI spec) on the server that serves
// this page, with the token the user enters (kept in sessionStorage: this
// tab only, until it is closed or "Forget token" is pressed) sent as
// "Authorization: Bearer" on every call. Plain JavaScript, no dependencies,
// no build step.
'use strict';

(() => {
  const PAGE_SIZE = 20;
  const REFRESH_MS = 1000;        // unfinished jobs refresh this often
  const HIDDEN_REFRESH_MS = 10000; // while the tab is hidden
  const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
  const TOKEN_KEY = 'ordersettle.token'; // sessionStorage key of the credential

  const el = (id) => document.getElementById(id);
  const rowsEl = el('job-rows');
  const numbers = new Intl.NumberFormat();
  const times = new Intl.DateTimeFormat(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  });

  // State: every job shown, by id, in display order (newest first), and the
  // cursor of the next older page (null when there is none).
  const jobs = new Map();
  const rowOf = new Map();
  let order = [];
  let nextCursor = null;
  let statusFilter = '';
  let generation = 0; // bumped when the list restarts; stale answers are dropped
  let refreshTimer = null;

  /**
   * An error answer of the API, or a network failure (status 0). retryAfter
   * is the Retry-After of a 429 or 503, in seconds (0 when absent).
   */
  class APIError extends Error {
    constructor(code, message, status, retryAfter) {
      super(message);
      this.code = code;
      this.status = status;
      this.retryAfter = retryAfter || 0;
    }
  }

  // ---- the credential ------------------------------------------------------

  // storedToken reads the token of this tab; the storage may be unavailable
  // (a privacy setting), and then the token lives only as long as the page.
  let pageToken = '';
  function storedToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return pageToken;
    }
  }

  function storeToken(token) {
    pageToken = token;
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      // Kept in pageToken only.
    }
  }

  // showTokenForm shows the form that asks for a token (with message, if
  // any, as an alert), or, when a token is set, the line that says so with
  // its Forget button.
  function showTokenForm(message) {
    const hasToken = storedToken() !== '';
    el('token-form').hidden = hasToken;
    el('token-hint').hidden = hasToken;
    el('token-set').hidden = !hasToken;
    const box = el('token-message');
    box.textContent = message || '';
    box.hidden = !message;
    el('empty').textContent = hasToken ? 'No jobs yet: queue one above.' : 'Enter a token above to see the jobs.';
  }

  // unauthenticated handles a 401: the token is missing or was refused
  // (unknown, revoked, expired). It is forgotten, the list is emptied and
  // the form asks for another. fromUser moves focus to the form (only after
  // a press, never during a background refresh).
  function unauthenticated(err, fromUser) {
    const had = storedToken() !== '';
    storeToken('');
    window.clearTimeout(refreshTimer);
    ++generation;
    clearList();
    showAPIError(null);
    if (err.code === 'NO_TOKEN') {
      showTokenForm('Enter a token first: an API key (os_…) or a JWT.');
    } else {
      showTokenForm((had
        ? 'The server refused the token: it is invalid, unknown, revoked or expired'
        : 'The API needs a token') + ' (' + err.code + ': ' + err.message + '). Enter a valid API key or JWT.');
    }
    if (fromUser) el('token').focus();
  }

  async function useToken(event) {
    event.preventDefault();
    const token = el('token').value.trim();
    if (!token || /[\s\u0000-\u001f\u007f-\uffff]/.test(token)) {
      showTokenForm(token ? 'A token has no spaces or special characters: paste the API key (os_…) or JWT alone.' : 'Enter a token.');
      el('token').focus();
      return;
    }
    storeToken(token);
    el('token').value = '';
    showTokenForm('');
    el('token-state').focus();
    announce('Token set for this tab. Loading the jobs.');
    await restart(true);
    scheduleRefresh();
  }

  function forgetToken() {
    storeToken('');
    window.clearTimeout(refreshTimer);
    ++generation;
    clearList();
    showAPIError(null);
    showTokenForm('');
    el('token').focus();
    announce('Token forgotten. Enter one to see the jobs.');
  }

  // ---- the API -------------------------------------------------------------

  // api calls the API with the token and returns the decoded JSON body (or,
  // with as 'blob', the body as a Blob), or throws an APIError with the
  // contract's error code and message.
  async function api(method, path, body, as) {
    const token = storedToken();
    if (!token) throw new APIError('NO_TOKEN', 'no token entered', 401);
    const init = { method, headers: { Accept: as === 'blob' ? 'text/csv' : 'application/json' } };
    init.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new APIError('NETWORK', 'the server cannot be reached (' + e.message + ')', 0);
    }
    if (resp.ok && as === 'blob') return resp.blob();
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      const detail = data && data.error;
      throw new APIError(detail ? detail.code : 'HTTP_' + resp.status,
        detail ? detail.message : 'unexpected answer (HTTP ' + resp.status + ')', resp.status,
        parseInt(resp.headers.get('Retry-After') || '0', 10));
    }
    return data;
  }

  // describe says what an error means for the user, in one sentence.
  function describe(err) {
    if (!(err instanceof APIError)) return 'Something went wrong on this page: ' + err.message + '. Reload it.';
    switch (err.status) {
      case 0: return 'Cannot reach the API: ' + err.message + '. Retrying…';
      case 403: return 'Not allowed with this token: ' + err.message + '.';
      case 429: return 'Too many requests with this token (' + err.message + '); retrying in ' + Math.max(1, err.retryAfter) + ' s.';
      default: return 'The API answered ' + err.code + ': ' + err.message + (err.status >= 500 ? '. Retrying…' : '');
    }
  }

  function listPath(cursor) {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (statusFilter) q.set('status', statusFilter);
    if (cursor) q.set('cursor', cursor);
    return '/jobs?' + q.toString();
  }

  // ---- formatting ----------------------------------------------------------

  const shortID = (id) => id.slice(0, 8);

  function formatDuration(ms) {
    if (ms < 0) ms = 0;
    const s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(Math.floor(s % 60)).padStart(2, '0') + ' s';
    const h = Math.floor(m / 60);
    return h + ' h ' + String(m % 60).padStart(2, '0') + ' min';
  }

  // duration: how long the current run took (final) or has taken (running).
  function duration(job) {
    if (!job.started_at) return '—';
    const start = Date.parse(job.started_at);
    if (job.status === 'RUNNING') return formatDuration(Date.now() - start);
    if (job.finished_at) return formatDuration(Date.parse(job.finished_at) - start);
    return '—';
  }

  function days(job) {
    return job.from === job.to ? job.from : job.from + ' → ' + job.to;
  }

  // ---- rendering -----------------------------------------------------------

  function cell(className) {
    const td = document.createElement('td');
    if (className) td.className = className;
    return td;
  }

  function createRow(job) {
    const tr = document.createElement('tr');
    tr.dataset.jobId = job.job_id;
    const id = cell('mono');
    const code = document.createElement('span');
    code.textContent = shortID(job.job_id);
    code.title = job.job_id;
    id.append(code);
    const range = cell('days');
    const status = cell('status');
    const badge = document.createElement('span');
    const detail = document.createElement('span');
    status.append(badge, detail);

    const progress = cell('col-progress');
    const wrap = document.createElement('div');
    wrap.className = 'progress';
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-label', 'Progress of job ' + shortID(job.job_id));
    const fill = document.createElement('div');
    bar.append(fill);
    const pct = document.createElement('span');
    pct.className = 'pct';
    wrap.append(bar, pct);
    progress.append(wrap);

    const counts = cell('num counts');
    const attempts = cell('num attempts');
    const took = cell('num duration');
    const created = cell('created');
    const when = document.createElement('time');
    created.append(when);
    const actions = cell('actions');
    tr.append(id, range, status, progress, counts, attempts, took, created, actions);
    rowOf.set(job.job_id, tr);
    tr._parts = { range, badge, detail, bar, fill, pct, counts, attempts, took, when, actions };
    tr._actions = null;
    updateRow(tr, job);
    return tr;
  }

  function updateRow(tr, job) {
    const p = tr._parts;
    tr.dataset.status = job.status;
    p.range.textContent = days(job);
    p.badge.className = 'badge status-' + job.status;
    p.badge.textContent = job.status;
    if (job.status === 'FAILED' && job.error) {
      p.detail.className = 'detail error';
      p.detail.textContent = job.error;
    } else if (job.status === 'COMPLETED' && job.settlements !== undefined) {
      p.detail.className = 'detail';
      p.detail.textContent = numbers.format(job.settlements) + (job.settlements === 1 ? ' settlement' : ' settlements');
    } else {
      p.detail.className = 'detail';
      p.detail.textContent = '';
    }
    const value = Math.round(job.progress * 10) / 10;
    p.bar.setAttribute('aria-valuenow', String(value));
    p.bar.setAttribute('aria-valuetext', value + ' %, ' + job.status.toLowerCase());
    p.fill.className = 'fill status-' + job.status;
    p.fill.style.width = Math.min(100, Math.max(0, job.progress)) + '%';
    p.pct.textContent = value + ' %';
    const approx = job.total_estimated && job.status !== 'COMPLETED' ? '≈' : '';
    p.counts.textContent = numbers.format(job.processed) + ' / ' + approx + numbers.format(job.total);
    p.counts.title = approx ? 'the total is an estimate until the rows are counted' : '';
    p.attempts.textContent = String(job.attempts);
    p.took.textContent = duration(job);
    p.when.dateTime = job.created_at;
    p.when.textContent = times.format(new Date(job.created_at));
    p.when.title = new Date(job.created_at).toString();
    renderActions(tr, job);
  }

  // renderActions shows the buttons the job's status allows. It rebuilds them
  // only when that set changes, so keyboard focus survives the refreshes;
  // when a focused button goes away, focus moves to its replacement.
  function renderActions(tr, job) {
    let kind = '';
    if (job.status === 'QUEUED' || job.status === 'RUNNING') kind = 'cancel';
    else if (job.status === 'FAILED' || job.status === 'CANCELLED') kind = 'retry';
    else if (job.status === 'COMPLETED' && job.download_url) kind = 'download';
    if (tr._actions === kind) return;
    const box = tr._parts.actions;
    const hadFocus = box.contains(document.activeElement);
    box.textContent = '';
    tr._actions = kind;
    const label = shortID(job.job_id);
    let control = null;
    if (kind === 'cancel' || kind === 'retry') {
      control = document.createElement('button');
      control.type = 'button';
      control.className = kind === 'cancel' ? 'danger' : 'secondary';
      control.dataset.action = kind;
      control.textContent = kind === 'cancel' ? 'Cancel' : 'Retry';
      control.setAttribute('aria-label', (kind === 'cancel' ? 'Cancel job ' : 'Retry job ') + label);
      control.addEventListener('click', () => act(kind, job.job_id, control));
    } else if (kind === 'download') {
      control = document.createElement('button');
      control.type = 'button';
      control.className = 'secondary';
      control.dataset.action = 'download';
      control.textContent = 'Download CSV';
      control.setAttribute('aria-label', 'Download the CSV of job ' + label);
      control.addEventListener('click', () => download(job.job_id, control));
    }
    if (control) box.append(control);
    if (hadFocus) {
      if (control) control.focus();
      else el('jobs-title').focus();
    }
  }

  // sync puts the rows in display order, inserting new ones; rows already in
  // place are not moved, so focus inside them is kept.
  function sync() {
    order.forEach((id, i) => {
      let tr = rowOf.get(id);
      if (!tr) tr = createRow(jobs.get(id));
      if (rowsEl.children[i] !== tr) rowsEl.insertBefore(tr, rowsEl.children[i] || null);
    });
    while (rowsEl.children.length > order.length) rowsEl.lastElementChild.remove();
    el('empty').hidden = order.length > 0;
    el('load-more').hidden = nextCursor === null;
    const running = order.filter((id) => jobs.get(id).status === 'RUNNING').length;
    el('summary').textContent = order.length + (order.length === 1 ? ' job shown' : ' jobs shown') +
      (running ? ', ' + running + ' running' : '') + (nextCursor ? '; older jobs below' : '');
  }

  // put records a job's new state, telling screen readers when its status
  // changed.
  function put(job, announceChange) {
    const old = jobs.get(job.job_id);
    jobs.set(job.job_id, job);
    const tr = rowOf.get(job.job_id);
    if (tr) updateRow(tr, job);
    if (announceChange && old && old.status !== job.status) {
      announce('Job ' + shortID(job.job_id) + ' is ' + job.status + '.');
    }
  }

  function announce(text) {
    const a = el('announcer');
    a.textContent = '';
    // A fresh text node after clearing makes screen readers repeat messages.
    window.setTimeout(() => { a.textContent = text; }, 50);
  }

  // showAPIError shows err above the list, or hides the box for null. A
  // 401 is told by the token form instead (see unauthenticated).
  function showAPIError(err) {
    const box = el('api-error');
    if (!err || (err instanceof APIError && err.status === 401)) {
      box.hidden = true;
      box.textContent = '';
      return;
    }
    box.textContent = describe(err);
    box.hidden = false;
  }

  // failed reports the error of a call: a 401 through the token form, any
  // other above the list.
  function failed(err, fromUser) {
    if (err instanceof APIError && err.status === 401) unauthenticated(err, fromUser);
    else showAPIError(err);
  }

  // ---- loading -------------------------------------------------------------

  // clearList empties the list.
  function clearList() {
    jobs.clear();
    rowOf.clear();
    order = [];
    nextCursor = null;
    rowsEl.textContent = '';
    sync();
  }

  // restart loads the newest page again, e.g. after the filter changed, and
  // then replaces the list with it (no empty table while it loads). fromUser
  // says a press caused it.
  async function restart(fromUser) {
    const gen = ++generation;
    if (!storedToken()) {
      clearList();
      return;
    }
    let page = { items: [] };
    try {
      page = await api('GET', listPath(null));
      if (gen !== generation) return;
      showAPIError(null);
    } catch (err) {
      if (gen !== generation) return;
      failed(err, fromUser);
      if (err.status === 401) return;
    }
    jobs.clear();
    rowOf.clear();
    order = [];
    rowsEl.textContent = '';
    for (const job of page.items) {
      jobs.set(job.job_id, job);
      order.push(job.job_id);
    }
    nextCursor = page.next_cursor || null;
    sync();
  }

  // loadMore appends the next older page.
  async function loadMore() {
    if (!nextCursor) return;
    const button = el('load-more');
    if (isBusy(button)) return;
    const gen = generation;
    busy(button, true);
    try {
      const page = await api('GET', listPath(nextCursor));
      if (gen !== generation) return;
      let added = 0;
      for (const job of page.items) {
        if (jobs.has(job.job_id)) {
          put(job, true);
          continue;
        }
        jobs.set(job.job_id, job);
        order.push(job.job_id);
        added++;
      }
      nextCursor = page.next_cursor || null;
      showAPIError(null);
      sync();
      announce(added + ' older ' + (added === 1 ? 'job' : 'jobs') + ' loaded.');
      if (nextCursor === null) el('jobs-title').focus();
    } catch (err) {
      failed(err, true);
    } finally {
      busy(button, false);
    }
  }

  // refresh merges the newest page (new jobs appear at the top) and fetches
  // every other unfinished job shown, so running jobs move without a reload.
  async function refresh() {
    const gen = generation;
    const head = await api('GET', listPath(null));
    if (gen !== generation) return;
    if (order.length > 0 && head.next_cursor && head.items.every((job) => !jobs.has(job.job_id))) {
      // A whole page of new jobs since the last look: there may be a gap
      // between them and the jobs shown, so start over.
      await restart();
      return;
    }
    const inHead = new Set();
    let at = 0; // where the next new job goes: after the last known one seen
    for (const job of head.items) {
      inHead.add(job.job_id);
      if (jobs.has(job.job_id)) {
        put(job, true);
        at = order.indexOf(job.job_id) + 1;
      } else {
        jobs.set(job.job_id, job);
        order.splice(at, 0, job.job_id);
        at++;
      }
    }
    const others = order.filter((id) => !inHead.has(id) && !FINAL.has(jobs.get(id).status));
    const fresh = await Promise.all(others.map((id) =>
      api('GET', '/jobs/' + encodeURIComponent(id)).catch((err) => (err.status === 404 ? null : Promise.reject(err)))));
    if (gen !== generation) return;
    for (const job of fresh) {
      if (job) put(job, true);
    }
    sync();
    // Durations of running jobs move with the clock.
    for (const id of order) {
      const job = jobs.get(id);
      if (job.status === 'RUNNING') rowOf.get(id)._parts.took.textContent = duration(job);
    }
  }

  // scheduleRefresh refreshes the list after delayMs (by default every
  // second, or every 10 s while the tab is hidden), as long as a token is set.
  function scheduleRefresh(delayMs) {
    window.clearTimeout(refreshTimer);
    if (!storedToken()) return;
    refreshTimer = window.setTimeout(async () => {
      let next;
      try {
        await refresh();
        showAPIError(null);
      } catch (err) {
        if (!(err instanceof APIError)) console.error(err); // a bug here, not the API
        failed(err, false);
        if (err.status === 401) return; // the form asks for a token; refresh when one is set
        // Over the rate limit: wait as told. Refused (403) or another 4xx:
        // ask again seldom, it will not change every second.
        if (err.status === 429) next = Math.max(1, err.retryAfter) * 1000;
        else if (err.status >= 400 && err.status < 500) next = HIDDEN_REFRESH_MS;
      }
      scheduleRefresh(next);
    }, delayMs || (document.hidden ? HIDDEN_REFRESH_MS : REFRESH_MS));
  }

  // ---- actions -------------------------------------------------------------

  // busy marks a control as working (or not). It does not disable it: a
  // disabled control loses keyboard focus, so a busy one only ignores presses.
  function busy(control, on) {
    if (on) {
      control.setAttribute('aria-busy', 'true');
      control.setAttribute('aria-disabled', 'true');
    } else {
      control.removeAttribute('aria-busy');
      control.removeAttribute('aria-disabled');
    }
  }

  const isBusy = (control) => control.getAttribute('aria-busy') === 'true';

  async function act(kind, id, button) {
    if (isBusy(button)) return;
    busy(button, true);
    try {
      const job = await api('POST', '/jobs/' + encodeURIComponent(id) + '/' + kind);
      put(job, false);
      announce(kind === 'cancel'
        ? 'Cancel recorded for job ' + shortID(id) + '; it is ' + job.status + '.'
        : 'Job ' + shortID(id) + ' is queued again.');
      showAPIError(null);
      sync();
    } catch (err) {
      failed(err, true);
    } finally {
      busy(button, false);
    }
  }

  // download fetches a COMPLETED job's CSV with the token and saves it under
  // the server's file name. A plain link cannot send the Authorization
  // header, so the file comes through fetch and a short-lived blob URL.
  async function download(id, button) {
    if (isBusy(button)) return;
    busy(button, true);
    try {
      const csv = await api('GET', '/downloads/' + encodeURIComponent(id) + '.csv', undefined, 'blob');
      const url = URL.createObjectURL(csv);
      const link = document.createElement('a');
      link.href = url;
      link.download = 'settlement-' + id + '.csv';
      link.hidden = true;
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60000);
      announce('The CSV of job ' + shortID(id) + ' is downloaded.');
      showAPIError(null);
    } catch (err) {
      failed(err, true);
    } finally {
      busy(button, false);
    }
  }

  async function queueJob(event) {
    event.preventDefault();
    const from = el('from').value;
    const to = el('to').value;
    const message = el('form-message');
    const say = (text, isError) => {
      message.textContent = text;
      message.className = 'message' + (isError ? ' error' : '');
      message.hidden = false;
    };
    if (!from || !to) {
      say('Choose both days: From and To.', true);
      (from ? el('to') : el('from')).focus();
      return;
    }
    if (to < from) {
      say('To (' + to + ') is before From (' + from + ').', true);
      el('to').focus();
      return;
    }
    const button = el('queue');
    if (isBusy(button)) return;
    busy(button, true);
    try {
      const job = await api('POST', '/jobs/settlement', { from, to });
      if (!statusFilter || statusFilter === job.status) {
        if (!jobs.has(job.job_id)) {
          jobs.set(job.job_id, job);
          order.unshift(job.job_id);
        }
        sync();
      }
      say('Job ' + shortID(job.job_id) + ' is queued for ' + days(job) + '.', false);
    } catch (err) {
      if (err instanceof APIError && err.status === 401) {
        message.hidden = true;
        unauthenticated(err, true);
      } else {
        say('Could not queue the job. ' + describe(err), true);
      }
    } finally {
      busy(button, false);
    }
  }

  // ---- start ---------------------------------------------------------------

  el('token-form').addEventListener('submit', useToken);
  el('forget-token').addEventListener('click', forgetToken);
  el('new-job').addEventListener('submit', queueJob);
  el('load-more').addEventListener('click', loadMore);
  el('status-filter').addEventListener('change', (event) => {
    statusFilter = event.target.value;
    restart(true).then(() => scheduleRefresh());
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) scheduleRefresh(); // catch up at once
  });
  showTokenForm('');
  restart(false).then(() => scheduleRefresh());
})();
