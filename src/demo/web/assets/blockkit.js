// Block Kit, drawn as Slack draws it, for the elements the bot uses: header, section (text,
// fields, accessory), context, divider, actions, buttons (styles, confirm dialogs), input
// with plain_text_input and datepicker, and mrkdwn (bold, italic, strike, code, links,
// user and group mentions, <!date^…>). Anything else is drawn as a visible
// "unsupported" box, so a new element cannot hide on the page.
"use strict";

const BlockKit = (() => {
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // Slack escapes &, < and > in message text; undo that before escaping for HTML.
  function unslack(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function ordinal(n) {
    const s = ["th", "st", "nd", "rd"], v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }

  // Dates are shown in UTC (the sandbox's clock is UTC; the fallback texts say so), and
  // "today"/"yesterday"/"tomorrow" are relative to the sandbox's clock, not the browser's.
  function formatDate(epoch, format, ctx) {
    const d = new Date(epoch * 1000);
    const y = d.getUTCFullYear(), m = d.getUTCMonth(), day = d.getUTCDate();
    const two = (n) => String(n).padStart(2, "0");
    const dayNumber = (t) => Math.floor(t / 86400);
    const relative = () => {
      const diff = dayNumber(epoch) - dayNumber(ctx.now);
      return diff === 0 ? "today" : diff === -1 ? "yesterday" : diff === 1 ? "tomorrow" : null;
    };
    const dateShort = `${MONTHS[m].slice(0, 3)} ${day}, ${y}`;
    const dateMid = `${MONTHS[m]} ${ordinal(day)}, ${y}`;
    const dateLong = `${DAYS[d.getUTCDay()]}, ${dateMid}`;
    const ago = () => {
      const secs = ctx.now - epoch, abs = Math.abs(secs);
      const [n, unit] = abs < 3600 ? [Math.round(abs / 60), "minute"]
        : abs < 86400 ? [Math.round(abs / 3600), "hour"] : [Math.round(abs / 86400), "day"];
      const phrase = `${n} ${unit}${n === 1 ? "" : "s"}`;
      return secs >= 0 ? `${phrase} ago` : `in ${phrase}`;
    };
    const tokens = {
      date_num: `${y}-${two(m + 1)}-${two(day)}`,
      date: dateMid,
      date_short: dateShort,
      date_long: dateLong,
      date_pretty: () => relative() || dateMid,
      date_short_pretty: () => relative() || dateShort,
      date_long_pretty: () => relative() || dateLong,
      time: `${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`,
      time_secs: `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`,
      ago,
    };
    return format.replace(/\{(\w+)\}/g, (whole, name) => {
      const value = tokens[name];
      if (value === undefined) return whole;
      return typeof value === "function" ? value() : value;
    });
  }

  // One <…> token of mrkdwn, as HTML.
  function special(inner, ctx, held) {
    const [target, label] = splitOnce(inner, "|");
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const name = label || (ctx.users && ctx.users[id]) || id;
      return `<span class="bk-mention" data-user="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
    }
    if (target.startsWith("#")) {
      const name = label || target.slice(1);
      return `<span class="bk-mention bk-channel">#${escapeHtml(name)}</span>`;
    }
    if (target.startsWith("!subteam^")) {
      const id = target.slice("!subteam^".length);
      const handle = label ? label.replace(/^@/, "") : (ctx.groups && ctx.groups[id]) || id;
      return `<span class="bk-mention bk-group" data-group="${escapeHtml(id)}">@${escapeHtml(handle)}</span>`;
    }
    if (target.startsWith("!date^")) {
      const parts = target.split("^");
      const epoch = Number(parts[1]);
      const format = parts[2] || "{date_num}";
      const link = parts[3];
      // A Date holds ±8.64e15 ms: beyond it toISOString throws and would abort the render.
      if (!Number.isFinite(epoch) || Math.abs(epoch) > 8.64e12) return escapeHtml(label || inner);
      const iso = new Date(epoch * 1000).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
      const shown = escapeHtml(formatDate(epoch, format, ctx));
      const safeLink = link && /^(https?:|mailto:)/.test(link);
      const body = safeLink ? `<a href="${escapeHtml(link)}" target="_blank" rel="noopener">${shown}</a>` : shown;
      return `<time class="bk-date" datetime="${epoch}" title="${escapeHtml(iso)}">${body}</time>`;
    }
    if (target === "!here" || target === "!channel" || target === "!everyone") {
      return `<span class="bk-mention bk-broadcast">@${target.slice(1)}</span>`;
    }
    if (/^(https?:|mailto:)/.test(target)) {
      const text = label ? inline(label, ctx, held) : escapeHtml(target);
      return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${text}</a>`;
    }
    return escapeHtml(`<${inner}>`);
  }

  function splitOnce(text, sep) {
    const at = text.indexOf(sep);
    return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
  }

  // Bold, italic and strike-through inside already-escaped text.
  function emphasis(html) {
    const edge = "(^|[\\s(\\[{\"'.,:;!?\\-\\u0000])";
    const after = "(?=$|[\\s)\\]}\"'.,:;!?\\-\\u0000])";
    for (const [mark, tag] of [["\\*", "b"], ["_", "i"], ["~", "s"]]) {
      const re = new RegExp(`${edge}${mark}([^\\n]*?[^\\s])${mark}${after}`, "g");
      html = html.replace(re, (whole, lead, body) => `${lead}<${tag}>${body}</${tag}>`);
    }
    return html;
  }

  // mrkdwn without code blocks or quotes: code spans, <…> tokens, emphasis, line breaks.
  // Parts already turned into HTML are held aside behind NUL-delimited markers; a nested call
  // (a link's label) shares the outer call's `held`, so every marker names one part.
  function inline(text, ctx, shared) {
    const top = !shared;
    const held = shared || [];
    // Markers come only from `hold`: a NUL in the text itself could otherwise name a part.
    if (top) text = text.replace(/\u0000/g, "\uFFFD");
    const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
    let rest = text.replace(/`([^`\n]+)`/g, (whole, code) => hold(`<code>${escapeHtml(unslack(code))}</code>`));
    rest = rest.replace(/<([^<>\n]+)>/g, (whole, inner) => hold(special(inner, ctx, held)));
    let html = emphasis(escapeHtml(unslack(rest)));
    html = html.replace(/\n/g, "<br>");
    if (!top) return html;
    // A part holds only parts made before it, so as many passes as parts restore them all.
    for (let pass = 0; pass <= held.length && /\u0000\d+\u0000/.test(html); pass++) {
      html = html.replace(/\u0000(\d+)\u0000/g, (whole, n) => held[Number(n)] ?? "");
    }
    return html;
  }

  // Whole mrkdwn: ``` blocks and > quotes, then inline formatting.
  function mrkdwn(text, ctx) {
    const parts = String(text).split("```");
    return parts.map((part, i) => {
      if (i % 2 === 1) return `<pre>${escapeHtml(unslack(part.replace(/^\n/, "")))}</pre>`;
      const lines = part.split("\n");
      const out = [];
      let quote = [];
      const flush = () => {
        if (quote.length) out.push(`<blockquote>${inline(quote.join("\n"), ctx)}</blockquote>`);
        quote = [];
      };
      let plain = [];
      const flushPlain = () => {
        if (plain.length) out.push(inline(plain.join("\n"), ctx));
        plain = [];
      };
      for (const line of lines) {
        const m = /^(&gt;|>) ?(.*)$/.exec(line);
        if (m) { flushPlain(); quote.push(m[2]); } else { flush(); plain.push(line); }
      }
      flush();
      flushPlain();
      return out.join("<br>");
    }).join("");
  }

  // A text object (plain_text or mrkdwn) as a node.
  function text(object, ctx, className) {
    const node = el("div", className || "bk-text");
    if (!object) return node;
    if (object.type === "mrkdwn") {
      node.innerHTML = mrkdwn(object.text || "", ctx);
      node.classList.add("bk-mrkdwn");
    } else {
      node.textContent = object.text || "";
      node.classList.add("bk-plain");
    }
    return node;
  }

  function unsupported(kind, name) {
    const node = el("div", "bk-unsupported", `Unsupported ${kind}: ${name}`);
    node.dataset.unsupported = name;
    return node;
  }

  function button(element, ctx) {
    const node = el("button", "bk-button", (element.text && element.text.text) || "");
    node.type = "button";
    if (element.style === "primary") node.classList.add("bk-primary");
    if (element.style === "danger") node.classList.add("bk-danger");
    node.dataset.actionId = element.action_id || "";
    if (element.accessibility_label) node.setAttribute("aria-label", element.accessibility_label);
    node.addEventListener("click", async () => {
      if (element.confirm && !(await confirmDialog(element.confirm, ctx))) return;
      if (element.url) ctx.openLink(element.url);
      if (ctx.onAction) ctx.onAction(element, node);
    });
    return node;
  }

  // Slack's confirmation dialog; resolves true when confirmed.
  function confirmDialog(confirm, ctx) {
    return new Promise((resolve) => {
      const layer = el("div", "overlay bk-confirm-layer");
      const dialog = el("div", "dialog bk-confirm");
      dialog.setAttribute("role", "alertdialog");
      dialog.setAttribute("aria-modal", "true");
      const title = el("h2", "dialog-title", (confirm.title && confirm.title.text) || "Are you sure?");
      dialog.append(title, text(confirm.text, ctx, "dialog-body"));
      const actions = el("div", "dialog-actions");
      const deny = el("button", "bk-button", (confirm.deny && confirm.deny.text) || "Cancel");
      const ok = el("button", "bk-button " + (confirm.style === "danger" ? "bk-danger" : "bk-primary"),
        (confirm.confirm && confirm.confirm.text) || "Yes");
      deny.type = ok.type = "button";
      const done = (answer) => { layer.remove(); resolve(answer); };
      deny.addEventListener("click", () => done(false));
      ok.addEventListener("click", () => done(true));
      layer.addEventListener("keydown", (e) => { if (e.key === "Escape") done(false); });
      actions.append(deny, ok);
      dialog.append(actions);
      layer.append(dialog);
      document.body.append(layer);
      ok.focus();
    });
  }

  // An interactive element (actions, section accessory).
  function element(object, ctx) {
    if (object.type === "button") return button(object, ctx);
    return unsupported("element", object.type);
  }

  // An input's element; the node carries what the submission needs.
  function inputElement(block, ctx) {
    const e = block.element || {};
    const id = `input-${block.block_id}-${e.action_id}`;
    let node;
    if (e.type === "plain_text_input") {
      node = e.multiline ? el("textarea", "bk-control") : el("input", "bk-control");
      if (!e.multiline) node.type = "text";
      if (e.placeholder) node.placeholder = e.placeholder.text;
      if (e.initial_value) node.value = e.initial_value;
      if (e.max_length) node.maxLength = e.max_length;
      node.autocomplete = "off";
      node.spellcheck = false;
    } else if (e.type === "datepicker") {
      node = el("input", "bk-control bk-datepicker");
      node.type = "date";
      if (e.initial_date) node.value = e.initial_date;
    } else {
      return unsupported("input element", e.type);
    }
    node.id = id;
    node.dataset.blockId = block.block_id;
    node.dataset.actionId = e.action_id;
    node.dataset.kind = e.type;
    return node;
  }

  function block(b, ctx) {
    const node = el("div", `bk-block bk-${b.type}`);
    node.dataset.blockType = b.type;
    if (b.block_id) node.dataset.blockId = b.block_id;
    switch (b.type) {
      case "header":
        node.append(text(b.text, ctx, "bk-header-text"));
        break;
      case "section": {
        const body = el("div", "bk-section-body");
        if (b.text) body.append(text(b.text, ctx));
        if (b.fields) {
          const fields = el("div", "bk-fields");
          for (const f of b.fields) fields.append(text(f, ctx, "bk-field"));
          body.append(fields);
        }
        node.append(body);
        if (b.accessory) node.append(el("div", "bk-accessory")).append(element(b.accessory, ctx));
        break;
      }
      case "context":
        for (const e of b.elements || []) {
          node.append(e.type === "mrkdwn" || e.type === "plain_text" ? text(e, ctx, "bk-context-item")
            : unsupported("context element", e.type));
        }
        break;
      case "divider":
        node.append(el("hr"));
        break;
      case "actions":
        for (const e of b.elements || []) node.append(element(e, ctx));
        break;
      case "input": {
        const input = inputElement(b, ctx);
        const label = el("label", "bk-label", (b.label && b.label.text) || "");
        if (input.id) label.htmlFor = input.id;
        if (b.optional) label.append(el("span", "bk-optional", " (optional)"));
        node.append(label, input);
        if (b.hint) node.append(el("div", "bk-hint", b.hint.text));
        node.append(el("div", "bk-error"));
        break;
      }
      default:
        return unsupported("block", b.type);
    }
    return node;
  }

  function blocks(list, ctx) {
    const node = el("div", "bk-blocks");
    for (const b of list || []) node.append(block(b, ctx));
    return node;
  }

  // A modal's input values, as the submission carries them.
  function values(container) {
    return [...container.querySelectorAll("[data-kind]")].map((input) => ({
      block_id: input.dataset.blockId,
      action_id: input.dataset.actionId,
      type: input.dataset.kind,
      value: input.value,
    }));
  }

  // Shows the bot's (or Slack's) errors under the inputs they name; clears the others.
  function showErrors(container, errors) {
    for (const b of container.querySelectorAll(".bk-block.bk-input")) {
      const message = errors[b.dataset.blockId] || "";
      const slot = b.querySelector(".bk-error");
      if (slot) slot.textContent = message;
      b.classList.toggle("bk-has-error", Boolean(message));
    }
  }

  return { blocks, mrkdwn, text, values, showErrors, confirmDialog, escapeHtml };
})();
