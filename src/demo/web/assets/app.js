// The demo's page: draws the fake Slack (as the person acting sees it), the fake AWS
// console and Entra provisioning page, and the clock, from the server's JSON; redraws on
// every change the server announces; sends each click, submission and command to the
// server, which has the fake Slack deliver it, signed, to the real bot.
"use strict";

const ui = {
  user: localStorage.getItem("scim-demo-as") || "U0DANA",
  tab: "slack",
  view: "channel", // or "home"
  thread: null, // the ts of the open thread's parent
  slack: null,
  aws: null,
  entra: null,
  time: null,
  modalKey: null,
  replyCounts: null,
  dismissed: new Set(),
};

const $ = (id) => document.getElementById(id);

function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  return n;
}

async function call(method, path, body) {
  // Every action is JSON (the server refuses others): another site cannot send it.
  const send = method !== "GET";
  const response = await fetch(path, {
    method,
    headers: send ? { "content-type": "application/json" } : {},
    body: send ? JSON.stringify(body === undefined ? {} : body) : undefined,
    cache: "no-store",
  });
  const textBody = await response.text();
  const data = textBody ? JSON.parse(textBody) : {};
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

let toastTimer = null;
function toast(message) {
  const t = $("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 8000);
}

const pad = (n) => String(n).padStart(2, "0");
function utc(iso) {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}
function utcDay(iso) {
  return utc(iso).slice(0, 10);
}

// ----- refresh -------------------------------------------------------------------------------

let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    do {
      again = false;
      const user = ui.user;
      const [slack, aws, entra, time] = await Promise.all([
        call("GET", `/api/slack?as=${encodeURIComponent(user)}`),
        call("GET", "/api/aws"),
        call("GET", "/api/entra"),
        call("GET", "/api/time"),
      ]);
      // Someone else took over while this was loading: what they see is fetched again.
      if (user !== ui.user) { again = true; continue; }
      Object.assign(ui, { slack, aws, entra, time });
      render();
    } while (again);
  } catch (e) {
    toast(`Could not load the sandbox's state: ${e.message}`);
  } finally {
    refreshing = false;
  }
}

function listen() {
  const events = new EventSource("/api/events");
  const live = $("live");
  events.addEventListener("open", () => { live.textContent = "● Live"; live.className = "live on"; });
  events.addEventListener("error", () => { live.textContent = "○ Reconnecting…"; live.className = "live off"; });
  events.addEventListener("change", () => refresh());
  // EventSource reconnects by itself; a slow poll covers a proxy that drops the stream.
  setInterval(refresh, 10000);
}

// Each part is redrawn only when what it shows changed, and messages that did not change
// keep their nodes: a button the person is about to click is not swapped under the pointer.
const drawn = {};
function changed(part, value) {
  const key = JSON.stringify(value);
  if (drawn[part] === key) return false;
  drawn[part] = key;
  return true;
}

function render() {
  if (changed("people", [ui.slack.people, ui.user])) renderPeople();
  if (changed("time", ui.time)) renderTime();
  if (changed("slack", [ui.slack, ui.view, ui.thread, [...ui.dismissed]])) renderSlack();
  if (changed("aws", ui.aws)) renderAws();
  if (changed("entra", ui.entra)) renderEntra();
}

let messageNodes = new Map();
let nextMessageNodes = new Map();
// The node of a message as drawn before, when nothing it shows changed.
function cachedMessageNode(pane, m, replyCount, isParent) {
  const day = Math.floor(ui.slack.now_epoch / 86400);
  const key = JSON.stringify([pane, m, replyCount, Boolean(isParent), day, ui.user]);
  const n = messageNodes.get(key) || messageNode(m, replyCount, isParent);
  nextMessageNodes.set(key, n);
  return n;
}

// ----- acting as ---------------------------------------------------------------------------

function renderPeople() {
  const box = $("people");
  box.replaceChildren();
  for (const p of ui.slack.people) {
    const item = node("span", "person");
    const b = node("button", "person-button", p.name);
    b.type = "button";
    b.title = `${p.name}: ${p.role}`;
    b.setAttribute("aria-pressed", String(p.id === ui.user));
    b.addEventListener("click", () => act(p.id));
    item.append(b, node("span", "person-role", p.role));
    box.append(item);
  }
}

function act(user) {
  if (user === ui.user) return;
  ui.user = user;
  localStorage.setItem("scim-demo-as", user);
  ui.modalKey = null;
  if (ui.view === "home") openHome();
  refresh();
}

function who() {
  const p = ui.slack && ui.slack.people.find((x) => x.id === ui.user);
  return p ? p.name : ui.user;
}

// ----- time --------------------------------------------------------------------------------

function renderTime() {
  const t = ui.time;
  $("clock").textContent = utc(t.now);
  const expiry = $("expiry");
  if (t.expires) {
    const days = t.days_left;
    const left = days < 0 ? `expired ${-days} day${days === -1 ? "" : "s"} ago` : `${days} day${days === 1 ? "" : "s"} left`;
    expiry.textContent = `${t.connection}'s token ${t.token_id ? t.token_id.slice(0, 8) + "… " : ""}expires ${utcDay(t.expires)} (${left})`;
  } else {
    expiry.textContent = `${t.connection}: the bot knows no expiry date`;
  }
}

async function jump(body) {
  try {
    const t = await call("POST", "/api/time/jump", body);
    $("time-note").textContent = `Moved to ${utc(t.now)}. Entra ran its provisioning cycle; run the sweep to see what the bot does.`;
  } catch (e) {
    $("time-note").textContent = e.message;
  }
  refresh();
}

async function sweep() {
  $("time-note").textContent = "Sweeping…";
  try {
    const report = await call("POST", "/api/time/sweep");
    $("time-note").textContent = `Sweep: ${report.lines.join(" · ")}`;
  } catch (e) {
    $("time-note").textContent = e.message;
  }
  refresh();
}

// ----- Slack -------------------------------------------------------------------------------

function context() {
  const users = {};
  for (const p of ui.slack.people) users[p.id] = p.name;
  const groups = {};
  for (const g of ui.slack.groups) groups[g.id] = g.handle;
  return { users, groups, now: ui.slack.now_epoch, openLink };
}

function openLink(url) {
  let host = "";
  try { host = new URL(url).host; } catch (e) { /* not a URL */ }
  if (host.endsWith("console.aws.amazon.com") || host.endsWith("awsapps.com")) {
    setTab("aws");
    toast("This is the sandbox's AWS console: the link points to the real one.");
  } else if (host.endsWith("portal.azure.com") || host.endsWith("entra.microsoft.com")) {
    setTab("entra");
    toast("This is the sandbox's Entra admin center: the link points to the real one.");
  } else if (host) {
    window.open(url, "_blank", "noopener");
  }
}

const tsNumber = (ts) => Number(ts);
const byTs = (a, b) => tsNumber(a.ts) - tsNumber(b.ts);

function renderSlack() {
  const s = ui.slack;
  $("channel-name").textContent = s.channel.name;
  $("channel-title").textContent = `# ${s.channel.name}`;
  const top = s.messages.filter((m) => !m.thread_ts);
  const replies = s.messages.filter((m) => m.thread_ts);
  const ephemerals = s.ephemerals.filter((e) => !ui.dismissed.has(e.ts));
  const counts = {};
  for (const r of replies) counts[r.thread_ts] = (counts[r.thread_ts] || 0) + 1;

  // Follow the conversation: a thread that grows while none is open opens.
  if (ui.replyCounts && !ui.thread) {
    const grown = Object.keys(counts).filter((ts) => counts[ts] > (ui.replyCounts[ts] || 0));
    if (grown.length) ui.thread = grown.sort((a, b) => tsNumber(b) - tsNumber(a))[0];
  }
  ui.replyCounts = counts;

  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items = [...top, ...ephemerals.filter((e) => !e.thread_ts)].sort(byTs);
  nextMessageNodes = new Map();
  list.replaceChildren(...withDays(items, (m) => cachedMessageNode("channel", m, counts[m.ts] || 0)));
  if (!items.length) list.append(node("div", "empty", "No messages yet."));
  if (atBottom) list.scrollTop = list.scrollHeight;

  const thread = $("thread");
  const parent = ui.thread && s.messages.find((m) => m.ts === ui.thread);
  thread.hidden = !parent;
  if (parent) {
    const inThread = [...replies.filter((m) => m.thread_ts === ui.thread),
      ...ephemerals.filter((e) => e.thread_ts === ui.thread)].sort(byTs);
    const box = $("thread-messages");
    const threadAtBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const count = node("div", "reply-count", `${inThread.length} repl${inThread.length === 1 ? "y" : "ies"}`);
    box.replaceChildren(cachedMessageNode("parent", parent, 0, true), count,
      ...inThread.map((m) => cachedMessageNode("thread", m, 0)));
    if (threadAtBottom) box.scrollTop = box.scrollHeight;
    $("thread-channel").textContent = `# ${s.channel.name}`;
  }

  messageNodes = nextMessageNodes;

  const home = $("home");
  const showHome = ui.view === "home";
  home.hidden = !showHome;
  list.hidden = showHome;
  $("composer").hidden = showHome;
  $("nav-home").classList.toggle("active", showHome);
  $("nav-channel").classList.toggle("active", !showHome);
  $("channel-title").textContent = showHome ? "scim-rotator · Home" : `# ${s.channel.name}`;
  if (showHome) renderHome();

  renderModal();
}

// Day dividers between messages of different days, as Slack shows them.
function withDays(items, draw) {
  const out = [];
  let day = null;
  for (const m of items) {
    const d = utcDay(tsNumber(m.ts) * 1000);
    if (d !== day) {
      out.push(node("div", "day-divider", d));
      day = d;
    }
    out.push(draw(m));
  }
  return out;
}

function messageNode(m, replyCount, isParent) {
  const box = node("div", "msg" + (m.ephemeral ? " ephemeral" : ""));
  box.dataset.ts = m.ts;
  box.append(node("div", "avatar", "SR"));
  const main = node("div", "msg-main");
  const head = node("div", "msg-head");
  head.append(node("span", "msg-author", "scim-rotator"), node("span", "app-badge", "APP"),
    node("span", "msg-time", utc(tsNumber(m.ts) * 1000).slice(11)));
  if (m.edited) head.append(node("span", "edited", "(edited)"));
  main.append(head);
  if (m.ephemeral) {
    const note = node("div", "ephemeral-note", "Only visible to you");
    const dismiss = node("button", "link", "Dismiss");
    dismiss.type = "button";
    dismiss.addEventListener("click", () => { ui.dismissed.add(m.ts); render(); });
    note.append(" · ", dismiss);
    main.append(note);
  }
  const ctx = context();
  ctx.onAction = (element) => click({ ts: m.ts, action_id: element.action_id }, m);
  if (Array.isArray(m.blocks) && m.blocks.length) {
    main.append(BlockKit.blocks(m.blocks, ctx));
  } else {
    const t = node("div", "bk-text bk-mrkdwn");
    t.innerHTML = BlockKit.mrkdwn(m.text || "", ctx);
    main.append(t);
  }
  if (replyCount && !isParent) {
    const link = node("button", "link replies", `${replyCount} repl${replyCount === 1 ? "y" : "ies"}`);
    link.type = "button";
    link.addEventListener("click", () => { ui.thread = m.ts; render(); });
    main.append(link);
  }
  box.append(main);
  return box;
}

async function click(target, message) {
  try {
    await call("POST", "/api/slack/click", { as: ui.user, ...target });
    if (message && !message.thread_ts && !message.ephemeral) ui.thread = message.ts;
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

function renderHome() {
  const home = $("home");
  const view = ui.slack.home;
  if (!view) {
    home.replaceChildren(node("div", "empty", "Opening the Home tab…"));
    return;
  }
  const ctx = context();
  ctx.onAction = (element) => click({ view_id: view.id, action_id: element.action_id });
  home.replaceChildren(BlockKit.blocks(view.blocks, ctx));
}

async function openHome() {
  ui.view = "home";
  render();
  try {
    await call("POST", "/api/slack/home", { as: ui.user });
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

// The top modal of the person acting. Rebuilt only when the view changes, so what they
// typed stays typed (the server never sends it back).
function renderModal() {
  const layer = $("modal-layer");
  const stack = ui.slack.modals;
  const view = stack.length ? stack[stack.length - 1] : null;
  const key = view ? `${view.id}:${view.hash}` : null;
  if (key === ui.modalKey) return;
  ui.modalKey = key;
  layer.replaceChildren();
  if (!view) return;
  const overlay = node("div", "overlay local");
  const dialog = node("div", "dialog modal");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.setAttribute("aria-label", (view.title && view.title.text) || "Modal");
  const head = node("div", "modal-head");
  const close = node("button", "icon", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  head.append(node("h2", "dialog-title", (view.title && view.title.text) || ""), close);
  const ctx = context();
  ctx.onAction = (element) => click({ view_id: view.id, action_id: element.action_id });
  const body = BlockKit.blocks(view.blocks, ctx);
  body.classList.add("modal-body");
  const foot = node("div", "dialog-actions");
  const cancel = node("button", "bk-button", (view.close && view.close.text) || "Cancel");
  cancel.type = "button";
  foot.append(cancel);
  let submit = null;
  if (view.submit) {
    submit = node("button", "bk-button bk-primary", view.submit.text);
    submit.type = "button";
    foot.append(submit);
  }
  const banner = node("div", "alert", "");
  banner.hidden = true;
  dialog.append(head, banner, body, foot);
  overlay.append(dialog);
  layer.append(overlay);

  const dismiss = async () => {
    try {
      await call("POST", "/api/slack/close", { as: ui.user, view_id: view.id });
    } catch (e) {
      toast(e.message);
    }
    refresh();
  };
  close.addEventListener("click", dismiss);
  cancel.addEventListener("click", dismiss);
  if (submit) {
    submit.addEventListener("click", async () => {
      submit.disabled = true;
      try {
        const answer = await call("POST", "/api/slack/submit", {
          as: ui.user, view_id: view.id, values: BlockKit.values(body),
        });
        if (answer.outcome === "errors") {
          BlockKit.showErrors(body, answer.errors);
        } else if (answer.outcome === "rejected") {
          banner.textContent = answer.error;
          banner.hidden = false;
        }
      } catch (e) {
        banner.textContent = e.message;
        banner.hidden = false;
      } finally {
        submit.disabled = false;
      }
      refresh();
    });
  }
  const first = body.querySelector("input, textarea");
  if (first) first.focus();
}

async function command(event) {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text) return;
  const m = /^\/scim(?:\s+(.*))?$/s.exec(text);
  if (!m) {
    toast("Only the bot's /scim command runs here: try /scim help.");
    return;
  }
  input.value = "";
  try {
    const ran = await call("POST", "/api/slack/command", { as: ui.user, text: m[1] || "" });
    if (ran.reply_error) toast(`Slack could not show the bot's answer: ${ran.reply_error}`);
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

// ----- AWS console -------------------------------------------------------------------------

function renderAws() {
  const a = ui.aws;
  $("aws-endpoint").textContent = a.scim_endpoint;
  $("aws-region").textContent = a.region;
  $("aws-account").textContent = a.account;
  $("aws-count").textContent = a.tokens.length;
  $("aws-max").textContent = a.max_tokens;
  const body = $("aws-tokens");
  body.replaceChildren();
  for (const t of a.tokens) {
    const row = node("tr");
    const id = node("td");
    id.append(node("code", "", t.id));
    const expires = node("td", "", utc(t.expires));
    if (t.expired) expires.append(" ", node("span", "badge bad", "Expired"));
    const del = node("button", "aws-secondary", "Delete");
    del.type = "button";
    del.setAttribute("aria-label", `Delete token ${t.id}`);
    del.addEventListener("click", () => deleteToken(t.id));
    const actions = node("td");
    actions.append(del);
    row.append(id, node("td", "", utc(t.created)), expires, actions);
    body.append(row);
  }
  if (!a.tokens.length) {
    const row = node("tr");
    const cell = node("td", "muted", "No access tokens.");
    cell.colSpan = 4;
    row.append(cell);
    body.append(row);
  }
}

function awsError(message) {
  const box = $("aws-error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function generateToken() {
  awsError(null);
  let token;
  try {
    token = await call("POST", "/api/aws/tokens");
  } catch (e) {
    awsError(e.message);
    return;
  }
  refresh();
  showSecretOnce(token);
}

// The console's one look at a new token: copy it now, it is never shown again.
function showSecretOnce(token) {
  const layer = node("div", "overlay local");
  const dialog = node("div", "dialog aws-dialog");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.setAttribute("aria-label", "Access token generated");
  dialog.append(node("h2", "dialog-title", "Access token generated"));
  dialog.append(node("div", "alert info", "Copy the access token now. This is the only time you can view or copy it; after you close this window, you cannot see it again."));
  const label = node("label", "field-label", "Access token");
  label.htmlFor = "aws-new-secret";
  const field = node("input", "field mono");
  field.id = "aws-new-secret";
  field.readOnly = true;
  field.value = token.secret;
  const copy = node("button", "aws-secondary", "Copy");
  copy.type = "button";
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
    } catch (e) {
      field.select();
      document.execCommand("copy");
    }
    copy.textContent = "Copied";
  });
  const row = node("div", "row");
  row.append(field, copy);
  const facts = node("dl", "facts");
  facts.append(node("dt", "", "Access token ID"), node("dd", "mono", token.id),
    node("dt", "", "Expires"), node("dd", "", utc(token.expires)));
  const done = node("button", "aws-primary", "Done");
  done.type = "button";
  done.addEventListener("click", () => { field.value = ""; layer.remove(); });
  const actions = node("div", "dialog-actions");
  actions.append(done);
  dialog.append(label, row, facts, actions);
  layer.append(dialog);
  $("page-aws").append(layer);
  field.select();
}

async function deleteToken(id) {
  const confirmed = await BlockKit.confirmDialog({
    title: { type: "plain_text", text: "Delete access token" },
    text: { type: "mrkdwn", text: `Delete access token \`${id}\`? Anything using it, such as Entra's provisioning, stops working with it at once.` },
    confirm: { type: "plain_text", text: "Delete token" },
    deny: { type: "plain_text", text: "Cancel" },
    style: "danger",
  }, context());
  if (!confirmed) return;
  awsError(null);
  try {
    await call("DELETE", `/api/aws/tokens/${encodeURIComponent(id)}`);
    toast(`Deleted access token ${id}.`);
  } catch (e) {
    awsError(e.message);
  }
  refresh();
}

// ----- Entra -------------------------------------------------------------------------------

function renderEntra() {
  const e = ui.entra;
  $("entra-app").textContent = e.app;
  $("entra-url").value = e.tenant_url || "";
  const secret = $("entra-secret");
  secret.value = e.secret_token_saved ? "••••••••••••••••" : "";
  secret.placeholder = e.secret_token_saved ? "" : "Not saved";
  const health = $("entra-health");
  const labels = { healthy: "Healthy", quarantined: "Quarantined", paused: "Paused", "not running": "Not running", unknown: "Unknown" };
  health.replaceChildren(node("span", `badge ${e.health === "healthy" ? "good" : "bad"}`, labels[e.health] || e.health),
    node("span", "", ` Status: ${e.status}`));
  const facts = $("entra-facts");
  facts.replaceChildren();
  const add = (term, value) => facts.append(node("dt", "", term), node("dd", "", value));
  const last = e.last_execution;
  if (last) {
    add("Last cycle", `${last.state} at ${utc(last.timeBegan)}`);
    if (last.error) add("Error", `${last.error.code}: ${last.error.message}`);
  } else {
    add("Last cycle", "none yet");
  }
  if (e.quarantine) {
    add("In quarantine since", utc(e.quarantine.seriesBegan));
    add("Next attempt", utc(e.quarantine.nextAttempt));
    add("Reason", e.quarantine.reason);
  }
  if (e.steady_state && !e.steady_state.startsWith("0001")) add("Steady state last reached", utc(e.steady_state));
  add("Job", e.job_id);
}

async function testConnection() {
  const out = $("entra-test-result");
  out.textContent = "Testing…";
  try {
    const result = await call("POST", "/api/entra/test");
    out.textContent = result.message;
    out.className = result.ok ? "good-text" : "bad-text";
  } catch (e) {
    out.textContent = e.message;
  }
}

async function provisioningCycle() {
  try {
    await call("POST", "/api/entra/cycle");
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

// ----- tabs and wiring ---------------------------------------------------------------------

function setTab(tab) {
  ui.tab = tab;
  for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
  for (const p of document.querySelectorAll(".page")) p.hidden = p.dataset.page !== tab;
  if (location.hash !== `#${tab}`) history.replaceState(null, "", `#${tab}`);
}

function wire() {
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => setTab(b.dataset.tab));
  $("nav-channel").addEventListener("click", () => { ui.view = "channel"; render(); });
  $("nav-home").addEventListener("click", openHome);
  $("thread-close").addEventListener("click", () => { ui.thread = null; render(); });
  $("composer").addEventListener("submit", command);
  $("jump").addEventListener("click", () => jump({ days_before_expiry: Number($("jump-days").value) }));
  $("plus-day").addEventListener("click", () => jump({ hours: 24 }));
  $("sweep").addEventListener("click", sweep);
  $("aws-generate").addEventListener("click", generateToken);
  $("entra-test").addEventListener("click", testConnection);
  $("entra-cycle").addEventListener("click", provisioningCycle);
  // Links in messages: the consoles' links open the sandbox's pages.
  document.addEventListener("click", (event) => {
    const a = event.target.closest && event.target.closest(".bk-blocks a[href], .bk-text a[href]");
    if (!a) return;
    event.preventDefault();
    openLink(a.href);
  });
  const tab = location.hash.slice(1);
  setTab(["slack", "aws", "entra"].includes(tab) ? tab : "slack");
}

wire();
refresh().then(listen);
