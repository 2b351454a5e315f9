// 应急 (the delivery states' names are the notices view's strings): the trigger form, a live roll-call board (coming / cannot / no answer, by group), the
// delivery of the alert, its timeline, and stand-down.
import { api, download, query } from '../api.js';
import { t, registerStrings } from '../i18n.js';
import { h, clear, table, time, errorBox, toast, card, field, progress, every, button, confirmDialog, fill } from '../ui.js';

registerStrings({
  zh: {
    'emergency.trigger': '发起应急动员', 'emergency.kind': '类型', 'emergency.text': '情况说明',
    'emergency.meeting_point': '集合地点', 'emergency.team': '队伍', 'emergency.needed': '需要到岗人数',
    'emergency.drill': '演练（消息标注【演练】，不计入统计）', 'emergency.send': '立即发出',
    'emergency.confirm': '确定向“{team}”全体成员发出应急动员？所有渠道立即发送，夜间也会发。',
    'emergency.sent_ok': '已发出应急动员', 'emergency.alerts': '动员记录', 'emergency.col.kind': '类型',
    'emergency.col.text': '说明', 'emergency.col.status': '状态', 'emergency.col.created': '发起时间',
    'emergency.status.sending': '发送中', 'emergency.status.active': '进行中', 'emergency.status.stood_down': '已解除',
    'emergency.board': '点名板', 'emergency.coming': '到岗', 'emergency.cannot': '无法到岗', 'emergency.no_answer': '未回复',
    'emergency.enough': '到岗人数已够', 'emergency.needed_of': '已到岗 {coming} / 需要 {needed}',
    'emergency.by_group': '按组统计', 'emergency.col.group': '组', 'emergency.stand_down': '解除动员',
    'emergency.stand_down_confirm': '确定解除？所有被通知的人都会收到解除消息，升级通知停止。',
    'emergency.stood_down_ok': '已解除', 'emergency.delivery': '送达情况', 'emergency.timeline': '时间线',
    'emergency.export_timeline': '导出时间线 CSV', 'emergency.drill_badge': '演练', 'emergency.next_step': '下一步升级：第 {cycle} 轮第 {step} 步',
    'emergency.members': '{n} 人', 'emergency.open': '查看', 'emergency.need_text': '请填写情况说明。',
    'emergency.answers_hint': '队员回复 1 为到岗，2 为无法到岗；本页每 2 秒刷新。',
    'emergency.ev.triggered': '发起', 'emergency.ev.sent': '已发出', 'emergency.ev.coming': '到岗', 'emergency.ev.cannot': '无法到岗',
    'emergency.ev.late_answer': '解除后回复', 'emergency.ev.resend': '重发', 'emergency.ev.notify_leaders': '通知组长',
    'emergency.ev.notify_commander': '通知指挥长', 'emergency.ev.enough': '人数已够', 'emergency.ev.stood_down': '解除',
    'emergency.ev.delivery_sent': '消息发出', 'emergency.ev.delivery_delivered': '消息送达',
    'emergency.col.time': '时间', 'emergency.col.event': '事件', 'emergency.col.name': '姓名', 'emergency.col.detail': '说明',
    'emergency.col.phone': '手机', 'emergency.col.household': '户号',
  },
  en: {
    'emergency.trigger': 'Mobilise the team', 'emergency.kind': 'Kind', 'emergency.text': 'What happened',
    'emergency.meeting_point': 'Meeting point', 'emergency.team': 'Team', 'emergency.needed': 'People needed',
    'emergency.drill': 'Drill (messages marked 【演练】, kept out of the statistics)', 'emergency.send': 'Send now',
    'emergency.confirm': 'Alert every member of "{team}" now, on every channel, also at night?',
    'emergency.sent_ok': 'Alert sent', 'emergency.alerts': 'Alerts', 'emergency.col.kind': 'Kind',
    'emergency.col.text': 'Text', 'emergency.col.status': 'Status', 'emergency.col.created': 'Started',
    'emergency.status.sending': 'Sending', 'emergency.status.active': 'Active', 'emergency.status.stood_down': 'Stood down',
    'emergency.board': 'Roll call', 'emergency.coming': 'Coming', 'emergency.cannot': 'Cannot come', 'emergency.no_answer': 'No answer',
    'emergency.enough': 'Enough people are coming', 'emergency.needed_of': '{coming} coming of {needed} needed',
    'emergency.by_group': 'By group', 'emergency.col.group': 'Group', 'emergency.stand_down': 'Stand down',
    'emergency.stand_down_confirm': 'Stand down? Everyone alerted is told; escalation stops.',
    'emergency.stood_down_ok': 'Stood down', 'emergency.delivery': 'Delivery', 'emergency.timeline': 'Timeline',
    'emergency.export_timeline': 'Export the timeline (CSV)', 'emergency.drill_badge': 'Drill',
    'emergency.next_step': 'Next escalation: round {cycle}, step {step}', 'emergency.members': '{n} people',
    'emergency.open': 'Open', 'emergency.need_text': 'Describe what happened.',
    'emergency.answers_hint': 'Members answer 1 (coming) or 2 (cannot come); this page refreshes every 2 s.',
    'emergency.ev.triggered': 'Triggered', 'emergency.ev.sent': 'Sent', 'emergency.ev.coming': 'Coming',
    'emergency.ev.cannot': 'Cannot come', 'emergency.ev.late_answer': 'Answer after stand-down', 'emergency.ev.resend': 'Resent',
    'emergency.ev.notify_leaders': 'Group leaders told', 'emergency.ev.notify_commander': 'Commander told',
    'emergency.ev.enough': 'Enough coming', 'emergency.ev.stood_down': 'Stood down', 'emergency.ev.delivery_sent': 'Message sent',
    'emergency.ev.delivery_delivered': 'Message delivered', 'emergency.col.time': 'Time', 'emergency.col.event': 'Event',
    'emergency.col.name': 'Name', 'emergency.col.detail': 'Detail', 'emergency.col.phone': 'Phone',
    'emergency.col.household': 'Household',
  },
});

const KINDS = ['防汛', '火情', '地质灾害', '森林防火', '疫情', '应急'];

function statusBadge(a) {
  const kind = { active: 'bad', sending: 'warn', stood_down: 'ok' }[a.status] || '';
  return [h('span', { class: 'badge ' + kind }, t('emergency.status.' + a.status)),
    a.drill ? h('span', { class: 'badge info' }, t('emergency.drill_badge')) : null];
}

async function renderHome(root, ctx) {
  const listBox = h('div', {});
  const formBox = h('div', {});
  root.append(h('div', { class: 'grid' }, formBox, card(t('emergency.alerts'), listBox)));
  if (ctx.can('commander')) {
    try {
      const teams = await api.get('/emergency/teams');
      const kind = h('input', { id: 'alert-kind', type: 'text', value: '防汛', list: 'alert-kinds' });
      const text = h('textarea', { id: 'alert-text', maxlength: 500 });
      const meeting = h('input', { id: 'alert-meeting-point', type: 'text', value: '村委会' });
      const team = h('select', { id: 'alert-team' }, teams.teams.map((x) =>
        h('option', { value: x.name }, `${x.name}（${t('emergency.members', { n: x.members })}）`)));
      const needed = h('input', { id: 'alert-needed', type: 'number', min: 1, value: teams.responses_needed });
      const drill = h('input', { id: 'alert-drill', type: 'checkbox' });
      formBox.append(card(t('emergency.trigger'),
        field(t('emergency.kind'), kind), h('datalist', { id: 'alert-kinds' }, KINDS.map((k) => h('option', { value: k }))),
        field(t('emergency.text'), text), field(t('emergency.meeting_point'), meeting),
        field(t('emergency.team'), team), field(t('emergency.needed'), needed),
        h('div', { class: 'checks' }, h('label', {}, drill, t('emergency.drill'))),
        button(t('emergency.send'), async () => {
          if (!text.value.trim()) throw new Error(t('emergency.need_text'));
          if (!(await confirmDialog(t('emergency.confirm', { team: team.value })))) return;
          const r = await api.post('/emergency/alerts', {
            kind: kind.value.trim() || '应急', text: text.value, meeting_point: meeting.value.trim(), team: team.value,
            responses_needed: Number(needed.value) || undefined, drill: drill.checked,
            idempotency_key: 'console-' + Date.now() + '-' + Math.random().toString(36).slice(2),
          });
          toast(t('emergency.sent_ok'));
          location.hash = '#/emergency/' + r.alert.id;
        }, { id: 'alert-send', kind: 'primary danger' })));
    } catch (e) {
      formBox.append(card(t('emergency.trigger'), errorBox(e)));
    }
  }
  const load = async () => {
    try {
      const r = await api.get('/emergency/alerts' + query({ per_page: 20 }));
      fill(listBox, table([
        { label: t('emergency.col.kind'), render: (a) => h('a', { href: '#/emergency/' + a.id, dataset: { alert: a.id } }, a.kind) },
        { label: t('emergency.col.text'), key: 'text' },
        { label: t('emergency.col.status'), render: statusBadge },
        { label: t('emergency.col.created'), render: (a) => time(a.created_at_ms) },
      ], r.items, { id: 'alerts-table' }));
    } catch (e) {
      fill(listBox, errorBox(e));
    }
  };
  return every(5000, load);
}

function personItem(p) {
  return h('li', { dataset: { person: p.person_id } }, h('b', {}, p.name), ' ',
    h('span', { class: 'muted' }, [p.group || '', p.phone].filter(Boolean).join(' · ')));
}

function renderAlert(root, id, ctx) {
  const head = h('div', {});
  const summary = h('div', { id: 'rollcall-summary' });
  const board = h('div', { class: 'board', id: 'rollcall-board' });
  const groups = h('div', { id: 'rollcall-groups' });
  const delivery = h('div', { id: 'alert-delivery' });
  const timeline = h('div', { id: 'alert-timeline' });
  const actions = h('div', { class: 'row' });
  root.append(h('p', {}, h('a', { href: '#/emergency' }, '← ' + t('emergency.alerts'))),
    card('', head, actions),
    card(t('emergency.board'), h('p', { class: 'hint' }, t('emergency.answers_hint')), summary, board),
    h('div', { class: 'grid' }, card(t('emergency.by_group'), groups), card(t('emergency.delivery'), delivery)),
    card(t('emergency.timeline'), timeline));
  let actionsDone = false;
  const load = async () => {
    let rc;
    let detail;
    let tl;
    try {
      [rc, detail, tl] = await Promise.all([api.get(`/emergency/alerts/${id}/rollcall`), api.get('/emergency/alerts/' + id),
        api.get(`/emergency/alerts/${id}/timeline`)]);
    } catch (e) {
      fill(summary, errorBox(e));
      return;
    }
    const a = detail.alert;
    fill(head, h('h1', { id: 'alert-heading' }, `${a.kind}：${a.text}`), ...statusBadge(a),
      h('p', { class: 'muted' }, `${t('emergency.meeting_point')}：${a.meeting_point || '—'} · ${t('emergency.team')}：${a.team} · ${time(a.created_at_ms)}`),
      a.status === 'active' && a.next_step && a.next_step.step >= 0 ? h('p', { class: 'hint' }, t('emergency.next_step', { cycle: a.next_step.cycle + 1, step: a.next_step.step + 1 })) : null);
    const c = rc.counts;
    const total = c.coming + c.cannot + c.no_answer;
    fill(summary, 
      h('div', { class: 'row' }, h('span', { class: 'pct', id: 'rollcall-coming-count', dataset: { coming: c.coming, cannot: c.cannot, no_answer: c.no_answer } },
        t('emergency.needed_of', { coming: c.coming, needed: c.needed })),
      a.enough_at_ms ? h('span', { class: 'badge ok' }, t('emergency.enough')) : null),
      progress([{ value: c.coming, class: 'coming', label: t('emergency.coming') }, { value: c.cannot, class: 'cannot', label: t('emergency.cannot') },
        { value: c.no_answer, class: 'no_answer', label: t('emergency.no_answer') }], total));
    fill(board, ...['coming', 'cannot', 'no_answer'].map((k) =>
      h('div', { class: 'col ' + k, id: 'rollcall-' + k.replace('_', '-') },
        h('h3', {}, `${t('emergency.' + k)}（${rc[k].length}）`),
        h('ul', {}, rc[k].map((p) => personItem(p))))));
    const byGroup = new Map();
    for (const k of ['coming', 'cannot', 'no_answer']) for (const p of rc[k]) {
      const g = p.group || '—';
      if (!byGroup.has(g)) byGroup.set(g, { group: g, coming: 0, cannot: 0, no_answer: 0 });
      byGroup.get(g)[k] += 1;
    }
    fill(groups, table([
      { label: t('emergency.col.group'), key: 'group' }, { label: t('emergency.coming'), key: 'coming' },
      { label: t('emergency.cannot'), key: 'cannot' }, { label: t('emergency.no_answer'), key: 'no_answer' },
    ], [...byGroup.values()].sort((x, y) => x.group.localeCompare(y.group, 'zh'))));
    const d = detail.delivery || {};
    const rec = d.recipients || {};
    fill(delivery, h('div', { class: 'legend' }, Object.entries(rec).map(([k, v]) => h('span', {}, t('notices.r.' + k) + ' ', h('b', {}, String(v))))),
      h('div', { class: 'legend' }, Object.entries(d.via || {}).map(([k, v]) => h('span', {}, t('notices.via.' + k) + ' ', h('b', {}, String(v))))));
    fill(timeline, table([
      { label: t('emergency.col.time'), render: (e) => time(e.at_ms) },
      { label: t('emergency.col.event'), render: (e) => t('emergency.ev.' + e.event) },
      { label: t('emergency.col.detail'), render: (e) => e.detail || '' },
    ], (tl.items || []).slice(-50).reverse()));
    if (!actionsDone) {
      actionsDone = true;
      actions.append(button(t('emergency.export_timeline'), () => download(`/emergency/alerts/${id}/timeline.csv`, `alert-${id}-timeline.csv`)));
      if (a.status !== 'stood_down' && ctx.can('commander')) {
        actions.append(button(t('emergency.stand_down'), async () => {
          if (!(await confirmDialog(t('emergency.stand_down_confirm')))) return;
          await api.post(`/emergency/alerts/${id}/stand-down`, {});
          toast(t('emergency.stood_down_ok'));
          clear(actions);
          actionsDone = false;
          await load();
        }, { id: 'alert-stand-down', kind: 'danger' }));
      }
    }
  };
  return every(2000, load);
}

export default {
  id: 'emergency',
  nav: 'nav.emergency',
  roles: ['commander', 'cadre', 'supervisor'],
  render(root, ctx) {
    const sub = ctx.params[0];
    if (sub && /^\d+$/.test(sub)) return renderAlert(root, Number(sub), ctx);
    let stop = null;
    let dead = false;
    renderHome(root, ctx).then((s) => { if (dead) s(); else stop = s; });
    return () => { dead = true; if (stop) stop(); };
  },
};
