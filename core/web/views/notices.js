// 通知: compose (audience from the org tree and roles, channel policy, a preview with the
// recipient count and SMS segments, scheduling), the list, and each notice's live progress
// (queued → sent → delivered → acknowledged) with its per-recipient table and CSV export.
import { api, download, query } from '../api.js';
import { t, registerStrings } from '../i18n.js';
import { h, clear, table, time, errorBox, toast, card, field, progress, every, button, tabs, confirmDialog, fill } from '../ui.js';

registerStrings({
  zh: {
    'notices.compose': '发通知', 'notices.list': '通知列表', 'notices.title': '标题', 'notices.body': '内容',
    'notices.body_hint': '可用 {name}（姓名）、{household}（户号）、{date}（日期）；群里显示为“各位村民”。',
    'notices.body_en': '英文内容（可选，发给选择英文的村民）', 'notices.category': '类别',
    'notices.audience': '发给谁', 'notices.everyone': '全村', 'notices.units': '组织（勾选的组含下级）',
    'notices.roles': '角色（不选则为所选组织的所有人）', 'notices.policy': '发送渠道',
    'notices.policy.group_first': '群优先（群里发一条，不在群里的单独发）', 'notices.policy.personal_all': '每人单独发',
    'notices.policy.sms_all': '全部发短信', 'notices.urgent': '紧急（立即发送，夜间也发）',
    'notices.ask_ack': '请村民回复“收到”确认', 'notices.schedule': '定时发送（留空则立即发送）',
    'notices.preview': '预览', 'notices.send': '发送', 'notices.plan': '发送预览',
    'notices.plan.persons': '收件人', 'notices.plan.group_posts': '群消息', 'notices.plan.covered_by_groups': '群覆盖人数',
    'notices.plan.personal_chats': '单聊', 'notices.plan.sms': '短信', 'notices.plan.sms_segments': '短信条数（计费）',
    'notices.plan.opted_out': '已退订', 'notices.plan.unreachable': '无法送达', 'notices.plan.estimated_cost': '预计费用（元）',
    'notices.need_audience': '请选择发给谁。', 'notices.need_body': '请填写内容。',
    'notices.sent_ok': '通知已发出（{n} 人）', 'notices.scheduled_ok': '通知已定时', 'notices.col.title': '标题',
    'notices.col.category': '类别', 'notices.col.status': '状态', 'notices.col.created': '创建时间', 'notices.col.by': '发布人',
    'notices.status.scheduled': '定时', 'notices.status.sending': '发送中', 'notices.status.sent': '已发出',
    'notices.status.cancelled': '已撤回',
    'notices.progress': '发送进度', 'notices.done_pct': '已完成 {pct}%', 'notices.r.queued': '排队',
    'notices.r.sending': '发送中', 'notices.r.sent': '已发出', 'notices.r.delivered': '已送达', 'notices.r.acknowledged': '已确认',
    'notices.r.failed': '失败', 'notices.r.expired': '过期', 'notices.r.cancelled': '撤回', 'notices.r.unreachable': '无法送达',
    'notices.r.opted_out': '已退订', 'notices.recipients': '收件人明细', 'notices.filter.all': '全部',
    'notices.filter.unacked': '未确认', 'notices.filter.acked': '已确认', 'notices.col.name': '姓名', 'notices.col.household': '户号',
    'notices.col.phone': '手机', 'notices.col.via': '渠道', 'notices.col.attempts': '尝试', 'notices.col.error': '错误',
    'notices.col.sent': '发出', 'notices.col.delivered': '送达', 'notices.col.acked': '确认',
    'notices.via.group': '群', 'notices.via.personal': '单聊', 'notices.via.sms': '短信', 'notices.via.none': '无',
    'notices.via.opted_out': '已退订', 'notices.export': '导出确认情况 CSV', 'notices.cancel': '撤回未发出的部分',
    'notices.cancel_confirm': '确定撤回？已发出的不能撤回。', 'notices.cancelled_ok': '已撤回',
    'notices.reached': '已送出 {n}/{total} 人，已确认 {acks} 人', 'notices.open': '查看',
    'notices.scheduled_for': '定时：{at}',
  },
  en: {
    'notices.compose': 'New notice', 'notices.list': 'Notices', 'notices.title': 'Title', 'notices.body': 'Text',
    'notices.body_hint': '{name}, {household} and {date} are filled in per person; a group post says 各位村民.',
    'notices.body_en': 'English text (optional, for villagers who chose English)', 'notices.category': 'Category',
    'notices.audience': 'To whom', 'notices.everyone': 'The whole village', 'notices.units': 'Units (with their sub-units)',
    'notices.roles': 'Roles (none: everyone in the chosen units)', 'notices.policy': 'Channels',
    'notices.policy.group_first': 'Groups first (one post per group chat, the rest personally)',
    'notices.policy.personal_all': 'Everyone personally', 'notices.policy.sms_all': 'SMS to everyone',
    'notices.urgent': 'Urgent (at once, also at night)', 'notices.ask_ack': 'Ask villagers to reply 收到',
    'notices.schedule': 'Send at (empty: now)', 'notices.preview': 'Preview', 'notices.send': 'Send',
    'notices.plan': 'Preview', 'notices.plan.persons': 'Recipients', 'notices.plan.group_posts': 'Group posts',
    'notices.plan.covered_by_groups': 'Reached in groups', 'notices.plan.personal_chats': 'Personal chats',
    'notices.plan.sms': 'SMS', 'notices.plan.sms_segments': 'SMS parts (billed)', 'notices.plan.opted_out': 'Opted out',
    'notices.plan.unreachable': 'Unreachable', 'notices.plan.estimated_cost': 'Estimated cost (CNY)',
    'notices.need_audience': 'Choose the recipients.', 'notices.need_body': 'Write the text.',
    'notices.sent_ok': 'Notice sent ({n} people)', 'notices.scheduled_ok': 'Notice scheduled', 'notices.col.title': 'Title',
    'notices.col.category': 'Category', 'notices.col.status': 'Status', 'notices.col.created': 'Created',
    'notices.col.by': 'By', 'notices.status.scheduled': 'Scheduled', 'notices.status.sending': 'Sending',
    'notices.status.sent': 'Sent', 'notices.status.cancelled': 'Cancelled', 'notices.progress': 'Progress',
    'notices.done_pct': '{pct}% done', 'notices.r.queued': 'Queued', 'notices.r.sending': 'Sending', 'notices.r.sent': 'Sent',
    'notices.r.delivered': 'Delivered', 'notices.r.acknowledged': 'Acknowledged', 'notices.r.failed': 'Failed',
    'notices.r.expired': 'Expired', 'notices.r.cancelled': 'Cancelled', 'notices.r.unreachable': 'Unreachable',
    'notices.r.opted_out': 'Opted out', 'notices.recipients': 'Recipients', 'notices.filter.all': 'All',
    'notices.filter.unacked': 'Not acknowledged', 'notices.filter.acked': 'Acknowledged', 'notices.col.name': 'Name',
    'notices.col.household': 'Household', 'notices.col.phone': 'Phone', 'notices.col.via': 'Channel',
    'notices.col.attempts': 'Attempts', 'notices.col.error': 'Error', 'notices.col.sent': 'Sent',
    'notices.col.delivered': 'Delivered', 'notices.col.acked': 'Acknowledged', 'notices.via.group': 'Group',
    'notices.via.personal': 'Personal', 'notices.via.sms': 'SMS', 'notices.via.none': 'None', 'notices.via.opted_out': 'Opted out',
    'notices.export': 'Export acknowledgements (CSV)', 'notices.cancel': 'Cancel what is not sent yet',
    'notices.cancel_confirm': 'Cancel? What has gone out cannot be called back.', 'notices.cancelled_ok': 'Cancelled',
    'notices.reached': '{n}/{total} reached, {acks} acknowledged', 'notices.open': 'Open',
    'notices.scheduled_for': 'Scheduled for {at}',
  },
});

const CATEGORIES = ['通知', '会议', '两公开', '决议公开', '实施结果公开', '红榜', '安全', '防疫'];
const STATES = ['queued', 'sending', 'sent', 'delivered', 'acknowledged', 'failed', 'expired', 'cancelled', 'unreachable', 'opted_out'];

// The org tree as nested checkboxes; returns {el, selected() → ids}. A scoped cadre sees only
// their own subtrees: those units' parents are not in the list, so they are the roots shown.
function orgTree(units) {
  const ids = new Set(units.map((u) => u.id));
  const children = new Map();
  const tops = [];
  for (const u of units) {
    const p = u.parent_id ?? null;
    if (p === null) continue; // the village itself: "全村" stands for it
    if (!ids.has(p) || units.find((x) => x.id === p && (x.parent_id ?? null) === null)) tops.push(u);
    else {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(u);
    }
  }
  const boxes = [];
  const build = (list, root) => {
    if (!list || !list.length) return null;
    return h('ul', { class: root ? 'tree root' : 'tree' }, list.map((u) => {
      const box = h('input', { type: 'checkbox', value: u.id, dataset: { unit: u.path || u.name } });
      boxes.push(box);
      return h('li', {}, h('label', {}, box, u.name), build(children.get(u.id), false));
    }));
  };
  const el = build(tops, true);
  return { el: el || h('p', { class: 'empty' }, t('common.none')), selected: () => boxes.filter((b) => b.checked).map((b) => Number(b.value)) };
}

function planView(plan) {
  const keys = ['persons', 'group_posts', 'covered_by_groups', 'personal_chats', 'sms', 'sms_segments', 'opted_out', 'unreachable', 'estimated_cost'];
  return h('div', { class: 'plan', id: 'notices-plan' }, keys.map((k) =>
    h('div', { dataset: { plan: k } }, h('b', {}, k === 'estimated_cost' ? Number(plan[k] || 0).toFixed(2) : String(plan[k] ?? 0)), t('notices.plan.' + k))));
}

async function renderCompose(root, ctx) {
  root.append(h('p', { class: 'muted' }, t('common.loading')));
  let units = [];
  let roles = [];
  try {
    [units, roles] = await Promise.all([api.get('/org-units?per_page=500'), api.get('/roles')]);
    units = units.items || [];
    roles = roles.items || [];
  } catch (e) {
    fill(root, errorBox(e));
    return;
  }
  clear(root);
  const title = h('input', { id: 'notice-title', type: 'text', maxlength: 100 });
  const body = h('textarea', { id: 'notice-body', maxlength: 2000 });
  const bodyEn = h('textarea', { id: 'notice-body-en', maxlength: 2000 });
  const category = h('input', { id: 'notice-category', type: 'text', value: '通知', list: 'notice-categories' });
  const categories = h('datalist', { id: 'notice-categories' }, CATEGORIES.map((c) => h('option', { value: c })));
  const everyone = h('input', { type: 'checkbox', id: 'notice-everyone' });
  const tree = orgTree(units);
  const roleBoxes = roles.filter((r) => r.role !== 'villager').map((r) =>
    h('label', {}, h('input', { type: 'checkbox', value: r.role, dataset: { role: r.role } }), `${r.name_zh}（${r.count}）`));
  const policy = h('select', { id: 'notice-policy' }, ['group_first', 'personal_all', 'sms_all'].map((p) =>
    h('option', { value: p }, t('notices.policy.' + p))));
  const urgent = h('input', { type: 'checkbox', id: 'notice-urgent' });
  const ask = h('input', { type: 'checkbox', id: 'notice-ask-ack', checked: true });
  const when = h('input', { type: 'datetime-local', id: 'notice-schedule' });
  const planBox = h('div', { id: 'notice-plan-box' });

  const payload = () => {
    const audience = everyone.checked ? { everyone: true } : {
      org_units: tree.selected(),
      roles: roleBoxes.map((l) => l.querySelector('input')).filter((b) => b.checked).map((b) => b.value),
    };
    if (!everyone.checked && !audience.org_units.length && !audience.roles.length) throw new Error(t('notices.need_audience'));
    if (!body.value.trim()) throw new Error(t('notices.need_body'));
    const p = { body: body.value, category: category.value.trim() || '通知', audience, policy: policy.value,
      priority: urgent.checked ? 'urgent' : 'normal', ask_ack: ask.checked };
    if (title.value.trim()) p.title = title.value.trim();
    if (bodyEn.value.trim()) p.body_en = bodyEn.value;
    if (when.value) p.scheduled_at = new Date(when.value).toISOString();
    return p;
  };

  const previewBtn = button(t('notices.preview'), async () => {
    const r = await api.post('/announcements/notices?dry_run=true', payload());
    fill(planBox, h('h3', {}, t('notices.plan')), planView(r.plan));
  }, { id: 'notice-preview' });
  const sendBtn = button(t('notices.send'), async () => {
    const p = payload();
    p.idempotency_key = 'console-' + Date.now() + '-' + Math.random().toString(36).slice(2);
    const r = await api.post('/announcements/notices', p);
    toast(r.notice.status === 'scheduled' ? t('notices.scheduled_ok') : t('notices.sent_ok', { n: r.plan ? r.plan.persons : '' }));
    location.hash = '#/notices/' + r.notice.id;
  }, { id: 'notice-send', kind: 'primary' });

  root.append(h('div', { class: 'grid' },
    card(t('notices.compose'),
      field(t('notices.title'), title),
      field(t('notices.body'), body, t('notices.body_hint')),
      field(t('notices.body_en'), bodyEn),
      field(t('notices.category'), category), categories,
      field(t('notices.policy'), policy),
      h('div', { class: 'checks' }, h('label', {}, urgent, t('notices.urgent')), h('label', {}, ask, t('notices.ask_ack'))),
      field(t('notices.schedule'), when),
      h('div', { class: 'row' }, previewBtn, sendBtn),
      planBox),
    card(t('notices.audience'),
      h('div', { class: 'checks' }, h('label', {}, everyone, t('notices.everyone'))),
      h('h3', {}, t('notices.units')), tree.el,
      h('h3', {}, t('notices.roles')), h('div', { class: 'checks', id: 'notice-roles' }, roleBoxes))));
  if (!ctx.can('cadre')) for (const el of root.querySelectorAll('input, textarea, select, button')) el.disabled = true;
}

async function renderList(root) {
  let page = 1;
  const box = h('div', {});
  root.append(card(t('notices.list'), box));
  const load = async () => {
    try {
      const r = await api.get('/announcements/notices' + query({ page, per_page: 20 }));
      fill(box, table([
        { label: t('notices.col.title'), render: (n) => h('a', { href: '#/notices/' + n.id, dataset: { notice: n.id } }, n.title) },
        { label: t('notices.col.category'), key: 'category' },
        { label: t('notices.col.status'), render: (n) => statusBadge(n.status) },
        { label: t('notices.col.created'), render: (n) => time(n.created_at_ms) },
        { label: t('notices.col.by'), key: 'created_by' },
      ], r.items, { id: 'notices-table' }),
      h('div', { class: 'row' }, h('span', { class: 'muted' }, t('common.total', { n: r.total })),
        page > 1 ? button(t('common.prev'), () => { page -= 1; return load(); }) : null,
        page * 20 < r.total ? button(t('common.next'), () => { page += 1; return load(); }) : null));
    } catch (e) {
      fill(box, errorBox(e));
    }
  };
  await load();
}

function statusBadge(status) {
  const kind = { sent: 'ok', sending: 'info', scheduled: 'warn', cancelled: 'bad' }[status] || '';
  return h('span', { class: 'badge ' + kind }, t('notices.status.' + status));
}

function renderDetail(root, id) {
  const head = h('div', {});
  const prog = h('div', { id: 'notice-progress' });
  const filter = h('select', { id: 'notice-recipient-filter' },
    h('option', { value: '' }, t('notices.filter.all')),
    h('option', { value: 'unacked' }, t('notices.filter.unacked')),
    h('option', { value: 'acked' }, t('notices.filter.acked')),
    STATES.map((s) => h('option', { value: 's:' + s }, t('notices.r.' + s))));
  const list = h('div', { id: 'notice-recipients' });
  let page = 1;
  const actions = h('div', { class: 'row' });
  root.append(h('p', {}, h('a', { href: '#/notices/list' }, '← ' + t('notices.list'))),
    card('', head, h('h3', {}, t('notices.progress')), prog, actions),
    card(t('notices.recipients'), h('div', { class: 'row' }, field('', filter)), list));

  const loadRecipients = async () => {
    const f = filter.value;
    const q = { page, per_page: 50 };
    if (f === 'acked') q.acknowledged = 'true';
    else if (f === 'unacked') q.acknowledged = 'false';
    else if (f.startsWith('s:')) q.status = f.slice(2);
    try {
      const r = await api.get(`/announcements/notices/${id}/recipients` + query(q));
      fill(list, table([
        { label: t('notices.col.name'), key: 'name' },
        { label: t('notices.col.household'), key: 'household' },
        { label: t('notices.col.phone'), key: 'phone' },
        { label: t('notices.col.via'), render: (x) => t('notices.via.' + x.via) },
        { label: t('notices.col.status'), render: (x) => h('span', { class: 'badge', dataset: { status: x.status } }, t('notices.r.' + x.status)) },
        { label: t('notices.col.attempts'), key: 'attempts' },
        { label: t('notices.col.sent'), render: (x) => time(x.sent_at_ms) },
        { label: t('notices.col.delivered'), render: (x) => time(x.delivered_at_ms) },
        { label: t('notices.col.acked'), render: (x) => time(x.acked_at_ms) },
        { label: t('notices.col.error'), key: 'last_error' },
      ], r.items, { id: 'notice-recipients-table' }),
      h('div', { class: 'row' }, h('span', { class: 'muted' }, t('common.total', { n: r.total })),
        page > 1 ? button(t('common.prev'), () => { page -= 1; return loadRecipients(); }) : null,
        page * 50 < r.total ? button(t('common.next'), () => { page += 1; return loadRecipients(); }) : null));
    } catch (e) {
      fill(list, errorBox(e));
    }
  };
  filter.addEventListener('change', () => { page = 1; loadRecipients(); });

  let firstLoad = true;
  const load = async () => {
    let r;
    try {
      r = await api.get('/announcements/notices/' + id);
    } catch (e) {
      fill(prog, errorBox(e));
      return;
    }
    const n = r.notice;
    const d = r.delivery || {};
    fill(head, h('h1', { id: 'notice-heading' }, n.title), statusBadge(n.status), ' ',
      h('span', { class: 'badge' }, n.category),
      n.status === 'scheduled' && n.scheduled_at_ms ? h('span', { class: 'muted' }, ' ' + t('notices.scheduled_for', { at: time(n.scheduled_at_ms) })) : null,
      h('p', { class: 'muted' }, n.body));
    const rec = d.recipients || {};
    const total = d.persons || 0;
    const finished = d.finished || 0;
    const pct = total > 0 ? Math.floor((100 * finished) / total) : (n.status === 'sent' ? 100 : 0);
    const parts = ['acknowledged', 'delivered', 'sent', 'failed', 'expired', 'unreachable', 'opted_out', 'cancelled', 'sending', 'queued']
      .map((s) => ({ value: rec[s] || 0, class: s, label: t('notices.r.' + s) }));
    fill(prog, 
      h('div', { class: 'row' }, h('span', { class: 'pct', id: 'notice-progress-pct', dataset: { pct } }, t('notices.done_pct', { pct })),
        h('span', { class: 'muted', id: 'notice-reached' }, t('notices.reached', { n: d.reached || 0, total, acks: d.acknowledged || 0 }))),
      progress(parts, total, { id: 'notice-progress-bar' }),
      h('div', { class: 'legend' }, STATES.filter((s) => rec[s]).map((s) =>
        h('span', { dataset: { count: s } }, t('notices.r.' + s) + ' ', h('b', {}, String(rec[s]))))));
    if (firstLoad) {
      firstLoad = false;
      actions.append(button(t('notices.export'), () => download(`/announcements/notices/${id}/acknowledgements.csv`, `notice-${id}-acknowledgements.csv`), { id: 'notice-export' }));
      if (n.status !== 'cancelled') {
        actions.append(button(t('notices.cancel'), async () => {
          if (!(await confirmDialog(t('notices.cancel_confirm')))) return;
          await api.del('/announcements/notices/' + id);
          toast(t('notices.cancelled_ok'));
          await load();
        }, { id: 'notice-cancel', kind: 'danger' }));
      }
    }
  };
  const stopStatus = every(1500, load);
  const stopList = every(4000, loadRecipients);
  return () => { stopStatus(); stopList(); };
}

export default {
  id: 'notices',
  nav: 'nav.notices',
  roles: ['cadre', 'supervisor'],
  render(root, ctx) {
    const sub = ctx.params[0] || (ctx.can('cadre') ? 'new' : 'list');
    if (/^\d+$/.test(sub)) return renderDetail(root, Number(sub));
    const body = h('div', {});
    const items = [{ id: 'list', label: t('notices.list') }];
    if (ctx.can('cadre')) items.unshift({ id: 'new', label: t('notices.compose') });
    root.append(tabs(items, (id) => { location.hash = '#/notices/' + id; }, sub));
    root.append(body);
    if (sub === 'new') renderCompose(body, ctx);
    else renderList(body);
    return undefined;
  },
};
