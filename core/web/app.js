// The console's shell: log in with a token, menus by the token's role, a view per menu entry
// (#/notices, #/emergency …), the language switch. Views live in views/*.js.
import { api, setToken, whenUnauthorized, ApiError } from './api.js';
import { t, setLang, currentLang } from './i18n.js';
import { h, clear, field } from './ui.js';
import notices from './views/notices.js';
import emergency from './views/emergency.js';
import opinions from './views/opinions.js';
import points from './views/points.js';
import volunteers from './views/volunteers.js';
import people from './views/people.js';

const views = [notices, emergency, opinions, points, volunteers, people];
const main = document.getElementById('main');
let session = null; // {me, role, person_id}
let cleanup = null;
let loginMessage = '';

function allowed(view) {
  if (!session) return false;
  return !view.roles || session.role === 'admin' || view.roles.includes(session.role);
}

function can(...roles) {
  return !!session && (session.role === 'admin' || roles.includes(session.role));
}

function stopView() {
  if (typeof cleanup === 'function') { try { cleanup(); } catch { /* the view is gone anyway */ } }
  cleanup = null;
}

function renderChrome() {
  document.title = t('app.title') + ' · villagebot';
  document.getElementById('brand').textContent = t('app.title');
  document.getElementById('lang').textContent = t('app.lang');
  const logout = document.getElementById('logout');
  logout.textContent = t('app.logout');
  logout.hidden = !session;
  const who = document.getElementById('who');
  who.textContent = session ? `${session.me.name} · ${t('role.' + session.role)}` : '';
  const nav = clear(document.getElementById('nav'));
  if (!session) return;
  const current = currentView();
  for (const v of views.filter(allowed)) {
    nav.append(h('a', { href: '#/' + v.id, class: current && current.id === v.id ? 'active' : '', dataset: { view: v.id } }, t(v.nav)));
  }
}

function currentView() {
  const id = (location.hash.replace(/^#\/?/, '').split('/')[0]) || '';
  const available = views.filter(allowed);
  return available.find((v) => v.id === id) || available[0] || null;
}

function route() {
  stopView();
  document.body.classList.remove('nav-open');
  renderChrome();
  if (!session) return renderLogin();
  const view = currentView();
  clear(main);
  if (!view) {
    main.append(h('div', { class: 'error', role: 'alert' }, t('login.forbidden_role', { role: session.role })));
    return;
  }
  const root = h('div', { class: 'view', id: 'view-' + view.id });
  main.append(root);
  const rest = location.hash.replace(/^#\/?/, '').split('/').slice(1);
  cleanup = view.render(root, { session, can, params: rest, rerender: route });
}

function renderLogin() {
  clear(main);
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'vb_…' });
  const message = h('div', { id: 'login-message', class: loginMessage ? 'error' : '', role: 'alert' }, loginMessage);
  const submit = h('button', { type: 'submit', id: 'login-submit', class: 'primary' }, t('login.submit'));
  const form = h('form', { class: 'card login', id: 'login' },
    h('h1', {}, t('login.title')),
    field(t('login.token'), input, t('login.hint')),
    message, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    submit.disabled = true;
    try {
      await login(value, false);
    } catch (e) {
      message.className = 'error';
      message.textContent = e instanceof ApiError && e.status === 401 ? t('login.bad')
        : t('login.unreachable', { why: e.message });
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  input.focus();
}

async function login(token, restoring) {
  setToken(token);
  try {
    const me = await api.get('/me', { quiet401: true });
    session = { me, role: me.role, person_id: me.person_id };
    loginMessage = '';
    try { sessionStorage.setItem('vb.token', token); } catch { /* this page only */ }
    route();
  } catch (e) {
    setToken('');
    session = null;
    try { sessionStorage.removeItem('vb.token'); } catch { /* nothing stored */ }
    if (restoring) {
      loginMessage = e instanceof ApiError && e.status === 401 ? t('login.revoked') : t('login.unreachable', { why: e.message });
      route();
      return;
    }
    throw e;
  }
}

function logout(message) {
  stopView();
  session = null;
  setToken('');
  loginMessage = message || '';
  try { sessionStorage.removeItem('vb.token'); } catch { /* nothing stored */ }
  route();
}

whenUnauthorized(() => logout(t('login.revoked')));
document.getElementById('logout').addEventListener('click', () => logout(''));
document.getElementById('lang').addEventListener('click', () => {
  setLang(currentLang() === 'en' ? 'zh' : 'en');
  route();
});
document.getElementById('menu-toggle').addEventListener('click', () => document.body.classList.toggle('nav-open'));
window.addEventListener('hashchange', route);

setLang(currentLang());
let saved = '';
try { saved = sessionStorage.getItem('vb.token') || ''; } catch { saved = ''; }
if (saved) login(saved, true); else route();
