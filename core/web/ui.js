// Small DOM helpers. Text always goes in as text (never innerHTML): a villager's opinion that
// contains <script> is shown as written.
import { t, bilingual } from './i18n.js';

// h('div', {class: 'x', onclick: fn, dataset: {id: 1}}, 'text', child, [children])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

// Replaces what el holds with children, as h() takes them (null and false skipped, arrays flattened).
export function fill(el, ...children) { append(clear(el), children); return el; }

// columns: [{key|label, render(row) → node/text, class}]
export function table(columns, rows, { empty, id, rowAttrs } = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'empty', id }, empty || t('common.none'));
  return h('div', { class: 'table-wrap' },
    h('table', { id },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
        columns.map((c) => h('td', { class: c.class, 'data-label': c.label },
          c.render ? c.render(r) : (r[c.key] ?? ''))))))));
}

export function time(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// An error from the API in the current language (refusals are "中文 / English").
export function errorText(e) {
  if (!e) return '';
  if (e.status === 403) return bilingual(e.message) || t('common.forbidden');
  return bilingual(e.message || String(e));
}

export function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, t('common.error', { why: errorText(e) }));
}

let toastTimer = 0;
export function toast(message, kind = 'ok') {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.className = 'toast ' + kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

// A card with a title and content.
export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

// A labelled form field.
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), input,
    hint ? h('small', { class: 'hint' }, hint) : null);
}

// A stacked progress bar: parts [{value, class, label}] of total. Widths are set through the
// CSSOM (the content security policy allows no inline style attributes).
export function progress(parts, total, { id } = {}) {
  const bar = h('div', { class: 'progress', id, role: 'progressbar' });
  for (const p of parts) {
    if (!p.value) continue;
    const seg = h('span', { class: 'seg ' + (p.class || ''), title: `${p.label}: ${p.value}` });
    seg.style.width = (total > 0 ? (100 * p.value) / total : 0).toFixed(2) + '%';
    bar.append(seg);
  }
  return bar;
}

// Runs fn now and every ms while the view lives; returns a stop function. Errors are shown by fn.
export function every(ms, fn) {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch { /* fn shows its own errors */ }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// Async button: disabled while running, errors shown as a toast.
export function button(label, onclick, { kind = '', id, type = 'button' } = {}) {
  const b = h('button', { type, class: kind, id });
  b.textContent = label;
  b.addEventListener('click', async (ev) => {
    if (b.disabled) return;
    b.disabled = true;
    try { await onclick(ev); } catch (e) { toast(errorText(e), 'bad'); } finally { b.disabled = false; }
  });
  return b;
}

export function tabs(items, onSelect, selected) {
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  for (const it of items) {
    const b = h('button', { type: 'button', role: 'tab', class: it.id === selected ? 'active' : '', dataset: { tab: it.id } }, it.label);
    b.addEventListener('click', () => {
      for (const x of bar.children) x.classList.toggle('active', x === b);
      onSelect(it.id);
    });
    bar.append(b);
  }
  return bar;
}

// An in-page confirmation (a modal <dialog>, not window.confirm: the same look everywhere, and
// scriptable by the browser tests). Resolves true for 确定, false for 取消 or Escape.
export function confirmDialog(message) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'primary', id: 'confirm-ok' }, t('common.ok'));
    const cancel = h('button', { type: 'button', id: 'confirm-cancel' }, t('common.cancel'));
    const dlg = h('dialog', { class: 'confirm', id: 'confirm-dialog' }, h('p', {}, message), h('div', { class: 'row' }, cancel, ok));
    const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); done(false); });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}
