// System Jobs: watch and steer background operations through the app's own API.
// No build step and nothing from elsewhere. The function key, when the API asks for one, is kept in
// sessionStorage (this tab only) and sent in the x-functions-key header: never in a URL.
"use strict";

const API = new URL("./", location.href).pathname;  // ".../api/" (the page is ".../api/systemjobs")
const PAGE_SIZE = 50;
const COUNT_WINDOW = 500;  // the counts at the top are of the newest 500 operations
const LIST_REFRESH_MS = 5000;
const DETAIL_REFRESH_MS = 2000;
const KEY_STORE = "bgops.functionKey";
const COLUMNS = ["backgroundoperationid", "name", "displayname", "backgroundoperationstatuscode", "createdon",
  "starttime", "endtime", "progresspercent", "progressmessage", "postponeuntil", "recurrencepattern", "dependencytoken"];
const STATUS = {
  0: ["Waiting For Resources", "waiting"], 10: ["Waiting", "waiting"], 20: ["In Progress", "running"],
  21: ["Pausing", "running"], 22: ["Canceling", "running"], 30: ["Succeeded", "succeeded"],
  31: ["Failed", "failed"], 32: ["Canceled", "canceled"],
};
const GUID = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;

const $ = (id) => document.getElementById(id);
const state = { pages: [], page: 0, timer: null, catalog: null, detail: null, listRequests: 0, opened: null,
  selected: new Map() };  // id -> the row as listed, for the bulk actions

// --- The API --------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
  // A request to the API, the key sent (and asked for) as needed; JSON both ways unless ``raw``, when the body
  // is sent as it is (its Content-Type among ``headers``) and the answer's text is given back as it came.
  for (let attempt = 0; attempt < 3; attempt++) {
    const key = sessionStorage.getItem(KEY_STORE);
    const response = await fetch(path.startsWith("http") ? path : API + path, {
      method, credentials: "same-origin", cache: "no-store",
      headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}),
        ...(key ? { "x-functions-key": key } : {}), ...headers },
      body: body === undefined || raw ? body : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? safeJson(text) : null;
    if (response.status === 401 && data?.error?.code !== "Unauthenticated") {
      sessionStorage.removeItem(KEY_STORE);
      await askForKey(Boolean(key));  // the host's own 401: no key, or a wrong one
      continue;
    }
    if (!response.ok) {
      const error = data?.error || {};
      throw new ApiError(response.status, error.code || String(response.status),
        error.message || `The API answered ${response.status}.`);
    }
    return { status: response.status, data, text, headers: response.headers };
  }
  throw new ApiError(401, "Unauthorized", "The key was not accepted.");
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

function askForKey(wrong) {
  const dialog = $("key-dialog");
  $("key-title").textContent = wrong ? "That key was not accepted: another one?" : "Function key";
  $("key-input").value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      const key = $("key-input").value.trim();
      if (key) sessionStorage.setItem(KEY_STORE, key);
      $("key-input").value = "";
      resolve();
    });
    if (!dialog.open) dialog.showModal();
  });
}

function notify(message, isError = false, ...extra) {
  const notice = $("notice");
  notice.replaceChildren(message, ...extra);
  notice.classList.toggle("error", isError);
  notice.hidden = !message;
}

function failed(error) {
  if (error.code === "Unauthenticated") {  // App Service Authentication is on, and nobody is signed in
    const login = document.createElement("a");
    login.href = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(location.pathname)}`;
    login.textContent = "Sign in";
    notify("You are not signed in. ", false, login, " to see your operations.");
    return;
  }
  notify(`${error.message} (${error.code})`, true);
}

// --- Formatting -----------------------------------------------------------------------------------

const LOCAL = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function time(iso) {
  const node = document.createElement("time");
  if (!iso) { node.textContent = "—"; return node; }
  node.dateTime = iso;
  node.textContent = LOCAL.format(new Date(iso));
  node.title = `${iso.replace("T", " ").replace("Z", "")} UTC`;
  return node;
}

function statusBadge(code, row = {}) {
  const [label, kind] = STATUS[code] || [`Status ${code}`, "waiting"];
  const badge = document.createElement("span");
  badge.className = `status ${kind}`;
  badge.dataset.status = code;
  if (code === 0 && row.dependencytoken) { badge.textContent = `In line ${row.dependencytoken}`; return badge; }
  if (code !== 10) { badge.textContent = label; return badge; }
  // Suspended: paused by someone (no time), or waiting for a time: postponed, or a recurring job's next run.
  const until = row.postponeuntil;
  const what = !until ? "Paused" : row.recurrencepattern ? "Next run" : "Postponed until";
  badge.append(what, ...(until ? [" ", time(until)] : []));
  return badge;
}

function duration(seconds) {
  // 7776000 -> "90 days"; 90000 -> "1 day 1 hour"; 2700 -> "45 minutes".
  const units = [["day", 86_400], ["hour", 3_600], ["minute", 60], ["second", 1]];
  const parts = [];
  let left = Math.round(seconds);
  for (const [unit, size] of units) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count && parts.length < 2) parts.push(`${count} ${unit}${count === 1 ? "" : "s"}`);
    else if (parts.length) break;
  }
  return parts.join(" ") || "0 seconds";
}

function attemptList(op) {
  const kept = op.attempts ? safeJson(op.attempts) : null;
  return Array.isArray(kept) ? kept : [];
}

function attemptsStarted(op) {
  // The attempts of this run that started (none for an operation that never ran): those kept, else one per
  // retry and the one running or ended.
  const kept = attemptList(op);
  if (kept.length) return Math.max(...kept.map((a) => a.attempt || 0));
  if (!op.starttime) return 0;
  return op.retrycount + (op.backgroundoperationstatuscode === 0 ? 0 : 1);
}

function progressBar(percent, label) {
  const bar = document.createElement("div");
  bar.className = "progress";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", label);  // a progress bar needs a name of its own
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(percent));
  const fill = document.createElement("div");
  fill.className = "bar";
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  bar.append(fill);
  return bar;
}

function parameters(text) {
  // Dataverse's Key/Value pairs as an object; null when the text is not such pairs.
  const pairs = text ? safeJson(text) : null;
  return Array.isArray(pairs) ? Object.fromEntries(pairs.map((p) => [p.Key, p.Value])) : null;
}

function keyValues(text) {
  const values = parameters(text);
  return values ? JSON.stringify(values, null, 2) : text || "—";
}

function operationLink(id) {
  const link = document.createElement("a");
  link.href = `#/op/${id}`;
  link.textContent = id;
  return link;
}

function hex(code) {
  return code == null ? "—" : `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
}

function cell(label, ...content) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.append(...content);
  return td;
}

function pairs(target, entries) {
  target.replaceChildren(...entries.flatMap(([term, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.append(value instanceof Node ? value : String(value ?? "—"));
    return [dt, dd];
  }));
}

// --- The list -------------------------------------------------------------------------------------

function filterText() {
  const clauses = [];
  const status = $("f-status").value;
  const name = $("f-name").value.trim();
  if (status) clauses.push(`backgroundoperationstatuscode eq ${Number(status)}`);
  if (name) clauses.push(`name eq '${name.replaceAll("'", "''")}'`);
  if ($("f-from").value) clauses.push(`createdon ge ${new Date($("f-from").value).toISOString()}`);
  if ($("f-to").value) clauses.push(`createdon le ${new Date($("f-to").value).toISOString()}`);
  return clauses.join(" and ");
}

function firstPage() {
  const query = new URLSearchParams({ $select: COLUMNS.join(",") });
  const filter = filterText();
  if (filter) query.set("$filter", filter);
  return `data/v9.2/backgroundoperations?${query}`;
}

async function showList({ keepPage = false, focusRow = null } = {}) {
  if (!keepPage) { state.pages = [firstPage()]; state.page = 0; }
  const started = performance.now();
  const asked = ++state.listRequests;  // only the answer to the latest request is shown
  try {
    const { data } = await api(state.pages[state.page], { headers: { Prefer: `odata.maxpagesize=${PAGE_SIZE}` } });
    if (asked !== state.listRequests || state.detail) return;  // asked again since, or an operation is open
    renderRows(data.value, focusRow);
    const next = data["@odata.nextLink"];
    state.pages.length = state.page + 1;
    if (next) state.pages.push(next);
    $("prev").disabled = state.page === 0;
    $("next").disabled = !next;
    $("page-label").textContent = `Page ${state.page + 1}`;
    // How long the rows took: from asking for them, and from opening the page (the tests print both).
    document.body.dataset.listShownMs = String(Math.round(performance.now() - started));
    document.body.dataset.listShownAtMs ||= String(Math.round(performance.now()));
    countRender("listRenders");
    showChart();
    notify("");
    schedule(data.value.some((row) => row.backgroundoperationstatuscode < 30) ? LIST_REFRESH_MS : 0, refreshList);
  } catch (error) {
    if (asked !== state.listRequests || state.detail) return;
    failed(error);
    if (transient(error)) schedule(LIST_REFRESH_MS, refreshList);  // storage busy or away: try again
  }
  showCounts();
}

function transient(error) {
  return !(error instanceof ApiError) || error.status === 429 || error.status >= 500;
}

function renderRows(rows, focusRow = null) {
  const body = $("jobs").tBodies[0];
  // Kept across a refresh; back from an operation, on its row.
  const focused = focusRow || document.activeElement?.closest?.("#jobs tr")?.dataset.id;
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.id = row.backgroundoperationid;
    const link = document.createElement("a");
    link.href = `#/op/${row.backgroundoperationid}`;
    link.textContent = row.displayname || row.name;
    const id = document.createElement("small");
    id.textContent = row.backgroundoperationid;
    const name = cell("Operation", link, id);
    name.className = "name";
    const running = [20, 21, 22].includes(row.backgroundoperationstatuscode) && row.progresspercent != null;
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.checked = state.selected.has(row.backgroundoperationid);
    pick.setAttribute("aria-label", `Select ${row.displayname || row.name} ${row.backgroundoperationid}`);
    pick.addEventListener("change", () => select([row], pick.checked));
    tr.append(cell("Select", pick), cell("Status", statusBadge(row.backgroundoperationstatuscode, row)), name, cell("Created", time(row.createdon)),
      cell("Started", time(row.starttime)), cell("Ended", time(row.endtime)),
      cell("Progress", running ? progressBar(row.progresspercent, `Progress of ${row.displayname || row.name}`) : "—"));
    return tr;
  }));
  $("empty").hidden = rows.length > 0;
  state.shownRows = rows;
  showSelection();
  if (focused) body.querySelector(`tr[data-id="${focused}"] a`)?.focus();
}

async function showCounts() {
  try {
    const query = new URLSearchParams({ $select: "backgroundoperationstatuscode", $top: String(COUNT_WINDOW) });
    const { data } = await api(`data/v9.2/backgroundoperations?${query}`,
      { headers: { Prefer: `odata.maxpagesize=${COUNT_WINDOW}` } });
    const counts = {};
    for (const row of data.value) counts[row.backgroundoperationstatuscode] = (counts[row.backgroundoperationstatuscode] || 0) + 1;
    const items = Object.keys(STATUS).filter((code) => counts[code]).map((code) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `status ${STATUS[code][1]}`;
      button.dataset.status = code;
      button.textContent = `${STATUS[code][0]} ${counts[code]}`;
      button.setAttribute("aria-label", `Show ${STATUS[code][0]}: ${counts[code]}`);
      button.addEventListener("click", () => { $("f-status").value = code; showList(); });
      li.append(button);
      return li;
    });
    const scope = document.createElement("li");
    scope.className = "scope";
    scope.textContent = data.value.length >= COUNT_WINDOW ? `of the newest ${COUNT_WINDOW}` : "in all";
    $("counts").replaceChildren(...items, scope);
  } catch { /* the list shows the error */ }
}

function refreshList() { if (!state.detail) showList({ keepPage: true }); }

// --- Bulk actions: many operations at once, each through the API as a single action would go ----------

const BULK_MOST = 1000;  // what one $batch takes

function select(rows, on) {
  for (const row of rows) {
    if (on && state.selected.size < BULK_MOST) state.selected.set(row.backgroundoperationid, row);
    if (!on) state.selected.delete(row.backgroundoperationid);
  }
  showSelection();
}

function showSelection() {
  const count = state.selected.size;
  $("bulk").hidden = count === 0;
  $("bulk-count").textContent = `${count} selected`;
  const shown = state.shownRows || [];
  $("select-page").checked = shown.length > 0 && shown.every((row) => state.selected.has(row.backgroundoperationid));
  for (const box of document.querySelectorAll("#jobs tbody input[type=checkbox]")) {
    box.checked = state.selected.has(box.closest("tr").dataset.id);
  }
}

async function selectAllMatching() {
  let next = firstPage();
  try {
    while (next && state.selected.size < BULK_MOST) {
      const { data } = await api(next, { headers: { Prefer: `odata.maxpagesize=${Math.min(500, BULK_MOST)}` } });
      select(data.value, true);
      next = data["@odata.nextLink"];
    }
    notify(state.selected.size >= BULK_MOST ? `${BULK_MOST} selected: the most that one action takes.` : "");
  } catch (error) { failed(error); }
}

async function bulk(kind) {
  const rows = [...state.selected.values()].filter((row) => kind === "cancel" || row.backgroundoperationstatuscode === 31);
  if (!rows.length) { notify("None of the selected operations has failed: there is nothing to run again."); return; }
  const n = rows.length, ops = `${n} operation${n === 1 ? "" : "s"}`;
  const asked = kind === "cancel"
    ? await confirmWith(`Cancel ${ops}?`, "Each is canceled as it would be on its own: any that has finished, or that "
      + "you may not cancel, is refused and left as it is.", `Cancel ${ops}`, "Keep them", false)
    : await confirmWith(`Run ${ops} again?`, "Each failed one is submitted again, as a new operation with the same "
      + "inputs.", `Run ${ops} again`, "Do not run", false);
  if (!asked) return;
  const requests = rows.map((row) => kind === "cancel"
    ? { method: "PATCH", url: `backgroundoperations(${row.backgroundoperationid})`,
      body: { backgroundoperationstatecode: 2, backgroundoperationstatuscode: 22 } }
    : { method: "POST", url: encodeURIComponent(row.name), headers: { Prefer: "respond-async" },
      body: parameters(row.inputparameters) || {} });
  try {
    if (kind === "again") await withInputs(rows, requests);
    const answers = await batch(requests);
    state.selected.clear();
    showSelection();
    await showList({ keepPage: true });  // first: a list shown clears the notice
    summarize(kind, answers);
  } catch (error) { failed(error); }
}

async function withInputs(rows, requests) {
  // The list does not read inputs: the failed rows' are read first, in one $batch of their own.
  const read = await batch(rows.map((row) => ({ method: "GET",
    url: `backgroundoperations(${row.backgroundoperationid})?$select=inputparameters` })));
  for (const [n, answer] of read.entries()) requests[n].body = parameters(answer.body?.inputparameters) || {};
}

async function batch(requests) {
  // One $batch (multipart/mixed, OData 4.0 as the Web API takes it), going on past a refusal; each answer's
  // status, JSON body and error message, in order.
  const boundary = `batch_${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  const parts = requests.map((r) => [`--${boundary}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary",
    "", `${r.method} ${r.url} HTTP/1.1`, ...(r.body === undefined ? [] : ["Content-Type: application/json"]),
    ...Object.entries(r.headers || {}).map(([k, v]) => `${k}: ${v}`), "",
    r.body === undefined ? "" : JSON.stringify(r.body)].join("\r\n"));
  const { text, headers } = await api("data/v9.2/$batch", { method: "POST", raw: true,
    headers: { "Content-Type": `multipart/mixed; boundary=${boundary}`, Prefer: "odata.continue-on-error" },
    body: `${parts.join("\r\n")}\r\n--${boundary}--\r\n` });
  const answered = headers.get("Content-Type")?.match(/boundary=("?)([^";]+)\1/)?.[2];
  return text.split(`--${answered}`).filter((part) => /HTTP\/1\.1 \d{3}/.test(part)).map((part) => {
    const status = Number(part.match(/HTTP\/1\.1 (\d{3})/)[1]);
    const at = part.search(/\r\n\r\n\{/);
    const body = at < 0 ? null : safeJson(part.slice(at + 4).trim());
    return { status, body, message: body?.error?.message || "" };
  });
}

function summarize(kind, answers) {
  const done = answers.filter((a) => a.status < 300).length;
  const refused = new Map();
  for (const a of answers.filter((a) => a.status >= 300)) refused.set(a.message, (refused.get(a.message) || 0) + 1);
  const why = [...refused].map(([message, n]) => `${n} × ${message || "refused"}`).join(" ");
  notify(`${kind === "cancel" ? "Canceled" : "Ran again"}: ${done}.${refused.size ? ` Refused: ${answers.length - done}. ${why}` : ""}`,
    refused.size > 0);
}

// --- Throughput: operations finished per interval, stacked by outcome, failures on top in red ---------

const CHART = { window: "hour", name: "", shownAt: -Infinity };
const CHART_REFRESH_MS = 60_000;  // with the list's refreshes, at most once a minute (it reads a whole window)
const SVG = "http://www.w3.org/2000/svg";
const OUTCOMES = ["succeeded", "canceled", "failed"];  // bottom to top: failures stand out on top

async function showChart({ force = false } = {}) {
  if (!force && performance.now() - CHART.shownAt < CHART_REFRESH_MS) return;
  CHART.shownAt = performance.now();
  const query = new URLSearchParams({ window: CHART.window });
  if (CHART.name) query.set("name", CHART.name);
  try {
    drawChart((await api(`throughput?${query}`)).data);
  } catch (error) {
    $("chart-summary").textContent = `The chart could not be read: ${error.message}`;
  }
}

function drawChart(data) {
  const width = 600, height = 120, slot = width / data.intervals.length;
  const most = Math.max(1, ...data.intervals.map((i) => i.succeeded + i.canceled + i.failed));
  $("chart").replaceChildren(...data.intervals.map((interval, n) => {
    const group = document.createElementNS(SVG, "g");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${LOCAL.format(new Date(interval.start))}: ${interval.succeeded} succeeded, `
      + `${interval.failed} failed, ${interval.canceled} canceled`;
    group.append(title);
    let top = height;
    for (const outcome of OUTCOMES) {
      const tall = (interval[outcome] / most) * (height - 4);
      if (!tall) continue;
      top -= tall;
      const bar = document.createElementNS(SVG, "rect");
      for (const [name, value] of [["x", n * slot + 0.5], ["y", top], ["width", Math.max(1, slot - 1)], ["height", tall]]) {
        bar.setAttribute(name, String(value));
      }
      bar.setAttribute("class", `bar-${outcome}`);
      group.append(bar);
    }
    return group;
  }));
  const every = data.intervalSeconds >= 3600 ? `${data.intervalSeconds / 3600} h` : `${data.intervalSeconds / 60} min`;
  const failed = document.createElement(data.totals.failed ? "strong" : "span");
  failed.textContent = `${data.totals.failed} failed`;
  $("chart-summary").replaceChildren(`${data.window === "day" ? "Last day" : "Last hour"}, every ${every}`,
    data.name ? ` (${data.name})` : "", `: ${data.totals.succeeded} succeeded, `, failed,
    `, ${data.totals.canceled} canceled.`);
  countRender("chartRenders");
}

function chooseWindow(button) {
  CHART.window = button.dataset.window;
  for (const other of document.querySelectorAll(".chart-windows button")) {
    other.setAttribute("aria-pressed", String(other === button));
  }
  showChart({ force: true });
}

// --- One operation --------------------------------------------------------------------------------

async function showDetail(id) {
  state.detail = id;
  try {
    const { data } = await api(`data/v9.2/backgroundoperations(${id})?$select=${allColumns()}`);
    if (state.detail !== id) return;
    renderDetail(data);
    notify("");
    schedule(data.backgroundoperationstatuscode < 30 ? DETAIL_REFRESH_MS : 0, () => showDetail(id));
  } catch (error) {
    if (state.detail !== id) return;
    $("detail-title").textContent = "Operation";
    failed(error.status === 404 ? new ApiError(404, "NotFound", `There is no operation ${id} you can see.`) : error);
    if (transient(error)) schedule(DETAIL_REFRESH_MS * 2, () => showDetail(id));
  }
}

function allColumns() {
  return [...COLUMNS, "inputparameters", "outputparameters", "retrycount", "errorcode", "errormessage", "runas",
    "modifiedon", "ttlinseconds", "postponeuntil", "recurrencepattern", "recentruns", "callbackstate",
    "attempts", "dependencytoken", "waitingbehind", "traceparent"].join(",");
}

function renderDetail(op) {
  const status = op.backgroundoperationstatuscode;
  $("detail-title").textContent = op.displayname || op.name;
  $("d-status").replaceChildren(statusBadge(status, op));
  $("d-id").textContent = op.backgroundoperationid;
  const running = [20, 21, 22].includes(status);
  $("d-progress").hidden = !running;
  if (running) {
    const percent = op.progresspercent ?? 0;
    $("d-progress").querySelector(".progress").setAttribute("aria-valuenow", String(percent));
    $("d-progress").querySelector(".bar").style.width = `${percent}%`;
    $("d-progress-label").textContent = `${percent}%${op.progressmessage ? ` · ${op.progressmessage}` : ""}`;
  }
  pairs($("d-run"), [["Operation", op.name], ["Attempts", attemptsStarted(op)],
    ["Retry count", op.retrycount], ["Submitted as", op.runas || "—"], ["Time to live", duration(op.ttlinseconds)],
    ...(op.recurrencepattern ? [["Recurs", op.recurrencepattern]] : []),
    ...(op.dependencytoken ? [["Line", op.dependencytoken]] : []),
    ...(op.waitingbehind ? [["Waiting behind", operationLink(op.waitingbehind)]] : []),
    ...(op.traceparent ? [["Trace ID", op.traceparent.split("-")[1]]] : [])]);
  $("d-timeline").replaceChildren(...timeline(op));
  $("d-inputs").textContent = keyValues(op.inputparameters);
  $("d-outputs").textContent = keyValues(op.outputparameters);
  $("d-error-block").hidden = op.errorcode == null && !op.errormessage;
  pairs($("d-error"), [["Code", hex(op.errorcode)], ["Message", op.errormessage]]);
  renderRuns(op.recentruns);
  renderAttempts(attemptList(op));
  $("d-raw").textContent = JSON.stringify(op, null, 2);
  renderActions(op);
  countRender("detailRenders");
}

function countRender(what) {
  // How many times the list or an operation was drawn: what the tests wait on to see a refresh happen.
  document.body.dataset[what] = String(Number(document.body.dataset[what] || 0) + 1);
}

function timeline(op) {
  const callback = { unsent: "will be sent when it ends", pending: "owed, not sent yet", sending: "being sent",
    delivered: "delivered", failed: "not delivered (every attempt failed)" }[op.callbackstate];
  const starts = attemptList(op).filter((a) => a.startedon);
  const started = starts.length > 1 ? starts.map((a) => [`Attempt ${a.attempt} started`, a.startedon])
    : [["Started", op.starttime]];
  const events = [["Created", op.createdon], ["Postponed until", op.postponeuntil], ...started,
    ["Ended", op.endtime]].filter(([, when]) => when);
  const items = events.map(([what, when]) => {
    const li = document.createElement("li");
    li.append(`${what} `, time(when));
    return li;
  });
  const li = document.createElement("li");
  li.textContent = `Callback: ${callback || "none asked for"}`;
  li.dataset.callback = op.callbackstate || "none";
  return [...items, li];
}

function renderAttempts(attempts) {
  // Each attempt: when, how it ended, its error, and an unexpected exception's last frames.
  $("d-attempts-block").hidden = attempts.length === 0;
  $("d-attempts").replaceChildren(...attempts.map((a) => {
    const li = document.createElement("li");
    li.dataset.attempt = a.attempt;
    const head = document.createElement("p");
    head.append(`Attempt ${a.attempt}: ${a.outcome || "running"} · `, time(a.startedon), " → ", time(a.completedon));
    li.append(head);
    if (a.errorcode != null || a.errormessage) {
      const error = document.createElement("p");
      error.textContent = `${hex(a.errorcode)} ${a.errormessage || ""}`;
      li.append(error);
    }
    if (a.traceback) {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "Traceback (last frames)";
      const pre = document.createElement("pre");
      pre.textContent = a.traceback;
      details.append(summary, pre);
      li.append(details);
    }
    return li;
  }));
}

function renderRuns(text) {
  const runs = text ? safeJson(text) || [] : [];
  $("d-runs-block").hidden = runs.length === 0;
  $("d-runs").replaceChildren(...runs.map((run) => {
    const li = document.createElement("li");
    li.append(`${run.outcome}: `, time(run.startedon), " → ", time(run.completedon));
    return li;
  }));
}

// --- Actions: only those the state table allows, each confirmed -----------------------------------

// Each confirmation's buttons say what they do: "Cancel operation" beside "Keep running", never "Cancel"
// beside "Back".
const ACTIONS = {
  cancel: { label: "Cancel", when: [0, 10, 20, 21], danger: true, restricted: true, yes: "Cancel operation",
    no: "Keep running", ask: "Cancel this operation? A running one stops at its next check; a waiting one ends now." },
  pause: { label: "Pause", when: [20], restricted: true, yes: "Pause operation", no: "Keep running",
    ask: "Pause this operation? It stops at its next check and waits until you resume it." },
  resume: { label: "Resume", when: [10], restricted: true, yes: "Resume operation", no: "Keep waiting",
    ask: "Resume this operation now?" },
  postpone: { label: "Postpone", when: [0], yes: "Postpone operation", no: "Keep its turn",
    ask: "Postpone this operation until:" },
  again: { label: "Run again", when: [30, 31, 32], yes: "Run a new one", no: "Do not run",
    ask: "Submit a new operation with the same inputs?" },
};

async function renderActions(op) {
  const catalog = await operations();
  const definition = catalog.find((d) => d.name.toLowerCase() === op.name.toLowerCase());
  const allowed = Object.entries(ACTIONS).filter(([name, action]) => action.when.includes(op.backgroundoperationstatuscode)
    && !(action.restricted && (!definition || definition.systemJob)) && !(name === "again" && !definition));
  const names = `${op.backgroundoperationid}:${allowed.map(([name]) => name).join(",")}`;
  state.shownOp = op;  // what the buttons act on: the row as last read
  if ($("d-actions").dataset.names === names) return;  // unchanged: a refresh keeps the buttons (and focus)
  $("d-actions").dataset.names = names;
  $("d-actions").replaceChildren(...allowed.map(([name, action]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action.label;
    button.dataset.action = name;
    if (action.danger) button.className = "danger";
    button.addEventListener("click", () => act(name, state.shownOp));
    return button;
  }));
}

async function operations() {
  if (!state.catalog) {
    try { state.catalog = (await api("operations")).data.value; } catch { return []; }
  }
  return state.catalog;
}

async function act(name, op) {
  const action = ACTIONS[name];
  const answer = await confirmWith(`${action.label}: ${op.displayname || op.name}`, action.ask, action.yes, action.no,
    name === "postpone");
  if (!answer) return;
  const id = op.backgroundoperationid;
  const row = `data/v9.2/backgroundoperations(${id})`;
  try {
    if (name === "cancel") await api(`backgroundoperation/${id}`, { method: "DELETE" });
    if (name === "pause") await api(row, { method: "PATCH", body: { backgroundoperationstatecode: 1 } });
    if (name === "resume") await api(row, { method: "PATCH", body: { backgroundoperationstatecode: 0 } });
    if (name === "postpone") await api(row, { method: "PATCH", body: { postponeuntil: answer.toISOString() } });
    if (name === "again") {
      const inputs = parameters(op.inputparameters) || {};
      const { data } = await api(`data/v9.2/${encodeURIComponent(op.name)}`, { method: "POST", body: inputs,
        headers: { Prefer: "respond-async" } });
      location.hash = `#/op/${data.backgroundOperationId}`;
      return;
    }
    notify(`${action.label}: done.`);
    showDetail(id);
  } catch (error) { failed(error); }
}

function confirmWith(title, text, yes, no, askTime) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  $("confirm-no").textContent = no;
  $("confirm-when").hidden = !askTime;
  if (askTime) {
    const soon = new Date(Date.now() + 3600_000);
    soon.setSeconds(0, 0);
    $("confirm-time").value = new Date(soon.getTime() - soon.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  }
  return new Promise((resolve) => {
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue !== "ok") return resolve(null);
      resolve(askTime ? new Date($("confirm-time").value) : true);
    });
    dialog.showModal();
    $("confirm-no").focus();
  });
}

// --- Refreshing: while something runs, and only while the tab is visible --------------------------

function schedule(ms, callback) {
  clearTimeout(state.timer);
  state.timer = null;
  state.refresh = ms ? callback : null;
  state.refreshMs = ms;
  if (ms && !document.hidden) state.timer = setTimeout(callback, ms);
}

document.addEventListener("visibilitychange", () => {
  clearTimeout(state.timer);
  state.timer = !document.hidden && state.refresh ? setTimeout(state.refresh, 0) : null;
});

// --- Navigation -----------------------------------------------------------------------------------

function route() {
  clearTimeout(state.timer);
  const match = location.hash.match(/^#\/op\/(.+)$/);
  $("list-view").hidden = Boolean(match);
  $("detail-view").hidden = !match;
  if (match) {
    state.listRequests += 1;  // a list still on its way must not take the refresh over
    $("d-actions").replaceChildren();
    delete $("d-actions").dataset.names;
    state.opened = decodeURIComponent(match[1]);
    $("detail-title").textContent = "Operation";
    $("detail-title").focus();  // a keyboard or screen reader user lands on what opened, not on <body>
    showDetail(state.opened);
  } else {
    state.detail = null;
    showList({ keepPage: state.pages.length > 0, focusRow: state.opened });
  }
}

function start() {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    CHART.name = $("f-name").value.trim();
    showList();
    showChart({ force: true });
  });
  $("filters").addEventListener("reset", () => setTimeout(() => { CHART.name = ""; showList(); showChart({ force: true }); }, 0));
  $("select-page").addEventListener("change", () => select(state.shownRows || [], $("select-page").checked));
  $("bulk-all").addEventListener("click", selectAllMatching);
  $("bulk-cancel").addEventListener("click", () => bulk("cancel"));
  $("bulk-again").addEventListener("click", () => bulk("again"));
  $("bulk-clear").addEventListener("click", () => { state.selected.clear(); showSelection(); });
  for (const button of document.querySelectorAll(".chart-windows button")) {
    button.addEventListener("click", () => chooseWindow(button));
  }
  $("prev").addEventListener("click", () => { state.page -= 1; showList({ keepPage: true }); });
  $("next").addEventListener("click", () => { state.page += 1; showList({ keepPage: true }); });
  $("goto").addEventListener("submit", (event) => {
    event.preventDefault();
    const match = $("goto-id").value.trim().match(GUID);
    if (!match) { notify("That is not an operation id: a GUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301.", true); return; }
    location.hash = `#/op/${match[1].toLowerCase()}`;
  });
  window.addEventListener("hashchange", route);
  operations().then((catalog) => {
    $("operation-names").replaceChildren(...catalog.map((d) => Object.assign(document.createElement("option"), { value: d.name })));
  });
  route();
}

start();
