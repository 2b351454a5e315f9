// 意见与投票 (issue 12): the villagers' opinion tickets (reply, satisfaction), the polls (live results
// as bar charts, turnout by group, create and close), and the 四议两公开 proposals.
// API: docs/API.md "Opinions" (/api/v1/opinions/…).
import { api, download } from '../api.js';
import { t, registerStrings, currentLang } from '../i18n.js';
import { h, clear, table, time, errorText, errorBox, toast, card, field, every, button, tabs, fill } from '../ui.js';

registerStrings({
  zh: {
    'opinions.colon': '：', 'opinions.tab.tickets': '意见', 'opinions.tab.polls': '投票', 'opinions.tab.proposals': '四议两公开',
    // tickets
    'opinions.filter.status': '状态', 'opinions.filter.category': '类别', 'opinions.filter.q': '搜索',
    'opinions.filter.q_hint': '编号、内容、提出人或组', 'opinions.filter.mine': '只看分给我的',
    'opinions.status.all': '全部', 'opinions.status.open': '处理中', 'opinions.status.answered': '已答复',
    'opinions.category.all': '全部类别',
    'opinions.col.number': '编号', 'opinions.col.category': '类别', 'opinions.col.unit': '组',
    'opinions.col.sender': '提出人', 'opinions.col.text': '内容', 'opinions.col.due': '答复期限',
    'opinions.col.status': '状态', 'opinions.col.rating': '评价',
    'opinions.anonymous': '匿名', 'opinions.anonymous_named': '匿名（{name}）', 'opinions.village': '本村',
    'opinions.no_unit': '未分组',
    'opinions.overdue': '已超时', 'opinions.late': '超时答复', 'opinions.escalated': '已上报 {n} 级',
    'opinions.rating.satisfied': '满意', 'opinions.rating.unsatisfied': '不满意', 'opinions.rating.none': '未评价',
    'opinions.tickets.title': '村民意见', 'opinions.tickets.empty': '没有符合条件的意见。',
    'opinions.tickets.shown': '显示 {shown} 条，共 {total} 条', 'opinions.tickets.capped': '（服务器只返回最新的 {n} 条）',
    'opinions.export': '导出全部意见 (CSV)',
    'opinions.ticket.kind': '类型', 'opinions.ticket.sender': '提出人', 'opinions.ticket.unit': '所在组',
    'opinions.ticket.created': '提出时间', 'opinions.ticket.due': '答复期限', 'opinions.ticket.level': '处理层级',
    'opinions.ticket.level_n': '第 {n} 级', 'opinions.ticket.assignee': '经办人编号',
    'opinions.ticket.status': '状态', 'opinions.ticket.text': '意见内容', 'opinions.ticket.answer': '答复',
    'opinions.ticket.answered_by': '{by} 于 {at} 答复', 'opinions.ticket.rating': '村民评价',
    'opinions.ticket.phone': '电话', 'opinions.ticket.household': '户号',
    'opinions.reply.label': '答复内容（会发给提出意见的村民）', 'opinions.reply.send': '发送答复',
    'opinions.reply.empty': '请先填写答复内容。', 'opinions.reply.sent': '已答复 {number}，村民会收到答复。',
    'opinions.reply.not_yours': '这条意见没有分给您，组长只能答复分给自己的意见。',
    'opinions.reply.readonly': '您的角色只能查看，不能答复。',
    'opinions.satisfaction.title': '效果共评：各组满意度', 'opinions.satisfaction.handlers': '各经办人满意度',
    'opinions.sat.unit': '组', 'opinions.sat.handler': '经办人', 'opinions.sat.tickets': '意见数',
    'opinions.sat.answered': '已答复', 'opinions.sat.satisfied': '满意', 'opinions.sat.unsatisfied': '不满意',
    'opinions.sat.rate': '满意率', 'opinions.sat.unanswered': '（尚未答复）',
    // polls
    'opinions.polls.title': '投票', 'opinions.polls.empty': '还没有投票。',
    'opinions.poll.code': '编号', 'opinions.poll.question': '问题', 'opinions.poll.mode': '方式',
    'opinions.poll.deadline': '截止时间', 'opinions.poll.status': '状态', 'opinions.poll.created_by': '发起人',
    'opinions.poll.open': '进行中', 'opinions.poll.closed': '已结束',
    'opinions.poll.per_household': '每户一票', 'opinions.poll.per_person': '每人一票',
    'opinions.poll.anonymous': '匿名', 'opinions.poll.named': '记名',
    'opinions.poll.live': '每 5 秒自动刷新', 'opinions.poll.updated': '更新于 {at}',
    'opinions.poll.voters': '已投票', 'opinions.poll.voters_households': '已投票（户）',
    'opinions.poll.eligible': '应投票', 'opinions.poll.turnout': '参与率',
    'opinions.poll.options_title': '各选项票数', 'opinions.poll.turnout_title': '各组参与情况',
    'opinions.poll.votes_n': '{n} 票', 'opinions.poll.voted_of': '{voted}/{eligible}',
    'opinions.poll.close': '立即结束投票', 'opinions.poll.close_confirm': '确定现在结束投票 {code}？结果会作为通知发给投票对象。',
    'opinions.poll.closed_now': '投票 {code} 已结束，结果已公布。',
    'opinions.poll.hide': '收起', 'opinions.poll.csv': '导出结果 (CSV)', 'opinions.poll.show_votes': '查看谁投了什么',
    'opinions.poll.votes_title': '投票明细', 'opinions.poll.vote_name': '姓名', 'opinions.poll.vote_household': '户号',
    'opinions.poll.vote_option': '选项', 'opinions.poll.vote_at': '投票时间',
    'opinions.poll.hint_vote': '村民发送「投票 {code} 选项号」投票。',
    'opinions.new.title': '发起投票', 'opinions.new.question': '问题',
    'opinions.new.question_ph': '例如：村口道路用哪种方案硬化？', 'opinions.new.options': '选项（2–9 个）',
    'opinions.new.option_n': '选项 {n}', 'opinions.new.add_option': '添加选项', 'opinions.new.remove_last': '删除最后一个选项',
    'opinions.new.audience': '投票对象', 'opinions.new.audience_all': '全村', 'opinions.new.audience_units': '选定的组',
    'opinions.new.units_loading': '正在加载组织…', 'opinions.new.units_none': '没有可选的组。',
    'opinions.new.per_household': '每户一票（不勾选则每人一票）', 'opinions.new.anonymous': '匿名投票（不公开谁投了什么）',
    'opinions.new.deadline': '截止时间', 'opinions.new.submit': '发起投票',
    'opinions.new.err_question': '请填写问题。', 'opinions.new.err_options': '请填写 2 到 9 个不为空的选项。',
    'opinions.new.err_units': '请至少选择一个组。', 'opinions.new.err_deadline': '截止时间至少要在一分钟之后。',
    'opinions.new.created': '已发起投票 {code}，已作为通知发给投票对象。',
    // proposals
    'opinions.proposals.title': '四议两公开', 'opinions.proposals.empty': '还没有议题。',
    'opinions.proposal.status.in_progress': '进行中', 'opinions.proposal.status.resolved': '决议已公开',
    'opinions.proposal.status.completed': '已完成', 'opinions.proposal.status.rejected': '已否决',
    'opinions.stage.0': '党支部提议', 'opinions.stage.1': '两委会商议', 'opinions.stage.2': '党员大会审议',
    'opinions.stage.3': '村民代表会议决议', 'opinions.stage.4': '决议公开', 'opinions.stage.5': '实施结果公开',
    'opinions.decision.passed': '通过', 'opinions.decision.rejected': '否决', 'opinions.decision.published': '已公开',
    'opinions.decision.next': '下一步', 'opinions.decision.pending': '未进行',
    'opinions.proposal.by': '{by} · {at}', 'opinions.proposal.poll': '依据投票 {code}',
    'opinions.proposal.note': '说明', 'opinions.proposal.pass': '通过', 'opinions.proposal.reject': '否决',
    'opinions.proposal.poll_code': '代表会议投票编号（如 P3）', 'opinions.proposal.by_poll': '按投票结果决议',
    'opinions.proposal.poll_hint': '投票须已结束，第一个选项（同意）过半即通过。',
    'opinions.proposal.body': '公开内容（以通知发给全村）', 'opinions.proposal.disclose': '发布{stage}',
    'opinions.proposal.recorded': '已记录：{stage}', 'opinions.proposal.reject_confirm': '否决后议题即结束，确定否决？',
    'opinions.proposal.new': '新议题', 'opinions.proposal.title_label': '标题', 'opinions.proposal.description': '内容说明',
    'opinions.proposal.create': '提交议题', 'opinions.proposal.created': '已创建议题，下一步：党支部提议。',
    'opinions.proposal.err_title': '请填写标题。', 'opinions.proposal.err_body': '请填写公开内容。',
  },
  en: {
    'opinions.colon': ': ', 'opinions.tab.tickets': 'Opinions', 'opinions.tab.polls': 'Polls', 'opinions.tab.proposals': 'Four deliberations',
    'opinions.filter.status': 'Status', 'opinions.filter.category': 'Category', 'opinions.filter.q': 'Search',
    'opinions.filter.q_hint': 'Number, text, sender or group', 'opinions.filter.mine': 'Only those assigned to me',
    'opinions.status.all': 'All', 'opinions.status.open': 'Open', 'opinions.status.answered': 'Answered',
    'opinions.category.all': 'All categories',
    'opinions.col.number': 'Number', 'opinions.col.category': 'Category', 'opinions.col.unit': 'Group',
    'opinions.col.sender': 'From', 'opinions.col.text': 'Text', 'opinions.col.due': 'Answer due',
    'opinions.col.status': 'Status', 'opinions.col.rating': 'Rating',
    'opinions.anonymous': 'Anonymous', 'opinions.anonymous_named': 'Anonymous ({name})', 'opinions.village': 'Village',
    'opinions.no_unit': 'No group',
    'opinions.overdue': 'Overdue', 'opinions.late': 'Answered late', 'opinions.escalated': 'Escalated {n} level(s)',
    'opinions.rating.satisfied': 'Satisfied', 'opinions.rating.unsatisfied': 'Unsatisfied', 'opinions.rating.none': 'Not rated',
    'opinions.tickets.title': 'Villagers\' opinions', 'opinions.tickets.empty': 'No opinions match.',
    'opinions.tickets.shown': '{shown} shown of {total}', 'opinions.tickets.capped': ' (the server returns the newest {n})',
    'opinions.export': 'Export all opinions (CSV)',
    'opinions.ticket.kind': 'Kind', 'opinions.ticket.sender': 'From', 'opinions.ticket.unit': 'Group',
    'opinions.ticket.created': 'Sent', 'opinions.ticket.due': 'Answer due', 'opinions.ticket.level': 'Level',
    'opinions.ticket.level_n': 'Level {n}', 'opinions.ticket.assignee': 'Handler (person id)',
    'opinions.ticket.status': 'Status', 'opinions.ticket.text': 'Opinion', 'opinions.ticket.answer': 'Answer',
    'opinions.ticket.answered_by': 'Answered by {by} at {at}', 'opinions.ticket.rating': 'Villager\'s rating',
    'opinions.ticket.phone': 'Phone', 'opinions.ticket.household': 'Household',
    'opinions.reply.label': 'Answer (sent to the villager who wrote)', 'opinions.reply.send': 'Send answer',
    'opinions.reply.empty': 'Write the answer first.', 'opinions.reply.sent': '{number} answered; the villager receives it.',
    'opinions.reply.not_yours': 'This opinion is not assigned to you; group leaders answer only their own.',
    'opinions.reply.readonly': 'Your role can read but not answer.',
    'opinions.satisfaction.title': 'Satisfaction by group', 'opinions.satisfaction.handlers': 'Satisfaction by handler',
    'opinions.sat.unit': 'Group', 'opinions.sat.handler': 'Handler', 'opinions.sat.tickets': 'Opinions',
    'opinions.sat.answered': 'Answered', 'opinions.sat.satisfied': 'Satisfied', 'opinions.sat.unsatisfied': 'Unsatisfied',
    'opinions.sat.rate': 'Satisfaction', 'opinions.sat.unanswered': '(not answered yet)',
    'opinions.polls.title': 'Polls', 'opinions.polls.empty': 'No polls yet.',
    'opinions.poll.code': 'Code', 'opinions.poll.question': 'Question', 'opinions.poll.mode': 'Mode',
    'opinions.poll.deadline': 'Deadline', 'opinions.poll.status': 'Status', 'opinions.poll.created_by': 'Created by',
    'opinions.poll.open': 'Open', 'opinions.poll.closed': 'Closed',
    'opinions.poll.per_household': 'One vote per household', 'opinions.poll.per_person': 'One vote per person',
    'opinions.poll.anonymous': 'Anonymous', 'opinions.poll.named': 'Named',
    'opinions.poll.live': 'Refreshed every 5 s', 'opinions.poll.updated': 'Updated {at}',
    'opinions.poll.voters': 'Voted', 'opinions.poll.voters_households': 'Voted (households)',
    'opinions.poll.eligible': 'Eligible', 'opinions.poll.turnout': 'Turnout',
    'opinions.poll.options_title': 'Votes per option', 'opinions.poll.turnout_title': 'Turnout by group',
    'opinions.poll.votes_n': '{n} votes', 'opinions.poll.voted_of': '{voted}/{eligible}',
    'opinions.poll.close': 'Close the poll now', 'opinions.poll.close_confirm': 'Close poll {code} now? The results are sent to its audience as a notice.',
    'opinions.poll.closed_now': 'Poll {code} is closed; the results are published.',
    'opinions.poll.hide': 'Hide', 'opinions.poll.csv': 'Export results (CSV)', 'opinions.poll.show_votes': 'Who voted what',
    'opinions.poll.votes_title': 'Votes', 'opinions.poll.vote_name': 'Name', 'opinions.poll.vote_household': 'Household',
    'opinions.poll.vote_option': 'Option', 'opinions.poll.vote_at': 'Voted at',
    'opinions.poll.hint_vote': 'Villagers vote by sending "投票 {code} <option number>".',
    'opinions.new.title': 'New poll', 'opinions.new.question': 'Question',
    'opinions.new.question_ph': 'e.g. How should the village road be paved?', 'opinions.new.options': 'Options (2 to 9)',
    'opinions.new.option_n': 'Option {n}', 'opinions.new.add_option': 'Add an option', 'opinions.new.remove_last': 'Remove the last option',
    'opinions.new.audience': 'Who votes', 'opinions.new.audience_all': 'The whole village', 'opinions.new.audience_units': 'Chosen groups',
    'opinions.new.units_loading': 'Loading groups…', 'opinions.new.units_none': 'No groups to choose from.',
    'opinions.new.per_household': 'One vote per household (unticked: one per person)',
    'opinions.new.anonymous': 'Anonymous (nobody sees who voted what)',
    'opinions.new.deadline': 'Deadline', 'opinions.new.submit': 'Start the poll',
    'opinions.new.err_question': 'Write the question.', 'opinions.new.err_options': 'Give 2 to 9 options, none empty.',
    'opinions.new.err_units': 'Choose at least one group.', 'opinions.new.err_deadline': 'The deadline must be at least a minute ahead.',
    'opinions.new.created': 'Poll {code} started and announced to its audience.',
    'opinions.proposals.title': 'Four deliberations, two disclosures', 'opinions.proposals.empty': 'No proposals yet.',
    'opinions.proposal.status.in_progress': 'In progress', 'opinions.proposal.status.resolved': 'Resolution disclosed',
    'opinions.proposal.status.completed': 'Completed', 'opinions.proposal.status.rejected': 'Rejected',
    'opinions.stage.0': 'Party branch proposes', 'opinions.stage.1': 'Two committees discuss',
    'opinions.stage.2': 'Party members\' meeting reviews', 'opinions.stage.3': 'Villager representatives resolve',
    'opinions.stage.4': 'Resolution disclosed', 'opinions.stage.5': 'Results disclosed',
    'opinions.decision.passed': 'Passed', 'opinions.decision.rejected': 'Rejected', 'opinions.decision.published': 'Published',
    'opinions.decision.next': 'Next', 'opinions.decision.pending': 'Not yet',
    'opinions.proposal.by': '{by} · {at}', 'opinions.proposal.poll': 'by poll {code}',
    'opinions.proposal.note': 'Note', 'opinions.proposal.pass': 'Passed', 'opinions.proposal.reject': 'Rejected',
    'opinions.proposal.poll_code': 'Representatives\' poll (e.g. P3)', 'opinions.proposal.by_poll': 'Decide by the poll',
    'opinions.proposal.poll_hint': 'The poll must be closed; more than half for the first option (agree) passes.',
    'opinions.proposal.body': 'What to disclose (sent to the whole village as a notice)',
    'opinions.proposal.disclose': 'Publish: {stage}',
    'opinions.proposal.recorded': 'Recorded: {stage}', 'opinions.proposal.reject_confirm': 'A rejection ends the proposal. Reject it?',
    'opinions.proposal.new': 'New proposal', 'opinions.proposal.title_label': 'Title', 'opinions.proposal.description': 'Description',
    'opinions.proposal.create': 'Create', 'opinions.proposal.created': 'Proposal created; next: the party branch proposes.',
    'opinions.proposal.err_title': 'Write the title.', 'opinions.proposal.err_body': 'Write what to disclose.',
  },
});

const enc = encodeURIComponent;
const pct0 = (x) => (Number.isFinite(x) ? Math.round(x * 100) : 0) + '%';
const pct = (x) => (Number.isFinite(x) ? Math.round(x * 1000) / 10 : 0) + '%';
const option = (value, label, selected) => h('option', { value, selected: selected ? 'selected' : null }, label);

// A "#/opinions/<tab>/<item>" address for what is open, without re-rendering the view.
function remember(...parts) {
  try { history.replaceState(null, '', '#/' + ['opinions', ...parts].map(enc).join('/')); } catch { /* not important */ }
}

// A div-bar chart: rows [{label, value (0–1 of the bar), text, data}] → .bars .bar-row .bar > span.
function bars(rows, { id } = {}) {
  const box = h('div', { class: 'bars', id });
  for (const r of rows) {
    const level = h('span');
    level.style.width = (Math.max(0, Math.min(1, r.value || 0)) * 100).toFixed(2) + '%';
    box.append(h('div', { class: 'bar-row', dataset: r.data || {} },
      h('span', { class: 'bar-label' }, r.label),
      h('div', { class: 'bar', title: r.text }, level),
      h('span', { class: 'bar-value' }, r.text)));
  }
  return box;
}

function unitName(path) {
  return path === '' || path === null || path === undefined ? t('opinions.village') : path;
}

// ───────────────────────────── tickets ─────────────────────────────

function senderText(s) {
  if (!s) return '';
  if (s.anonymous && !s.name) return t('opinions.anonymous');
  if (s.anonymous) return t('opinions.anonymous_named', { name: s.name });
  return s.name || (s.person_id ? '#' + s.person_id : '');
}

function isOverdue(tk, now = Date.now()) {
  return tk.status === 'open' && tk.sla_due_ms > 0 && now > tk.sla_due_ms;
}

function statusBadge(tk) {
  return tk.status === 'answered'
    ? h('span', { class: 'badge ok' }, t('opinions.status.answered'))
    : h('span', { class: 'badge warn' }, t('opinions.status.open'));
}

function ratingBadge(tk) {
  if (tk.rating === 'satisfied') return h('span', { class: 'badge ok' }, t('opinions.rating.satisfied'));
  if (tk.rating === 'unsatisfied') return h('span', { class: 'badge bad' }, t('opinions.rating.unsatisfied'));
  return tk.status === 'answered' ? h('span', { class: 'muted' }, t('opinions.rating.none')) : '';
}

function dueCell(tk) {
  const parts = [time(tk.sla_due_ms)];
  if (isOverdue(tk)) parts.push(' ', h('span', { class: 'badge bad', dataset: { overdue: '1' } }, t('opinions.overdue')));
  else if (tk.status === 'answered' && tk.answered_at_ms && tk.sla_due_ms && tk.answered_at_ms > tk.sla_due_ms) {
    parts.push(' ', h('span', { class: 'badge warn' }, t('opinions.late')));
  }
  if (tk.level > 0) parts.push(' ', h('span', { class: 'badge info' }, t('opinions.escalated', { n: tk.level })));
  return h('span', {}, parts);
}

function ticketsTab(el, ctx, openNumber) {
  let alive = true;
  let tickets = [];
  let total = 0;
  let selected = '';
  const role = ctx.session.role;
  const canAnswer = ctx.can('cadre', 'group_leader');

  const status = h('select', { id: 'opinions-filter-status' },
    option('', t('opinions.status.all')), option('open', t('opinions.status.open')),
    option('answered', t('opinions.status.answered')));
  const category = h('select', { id: 'opinions-filter-category' }, option('', t('opinions.category.all')));
  const q = h('input', { type: 'search', id: 'opinions-filter-q', placeholder: t('opinions.filter.q_hint') });
  // mine=true means "assigned to the token's person": only for a token acting for a person.
  const mine = ctx.session.person_id
    ? h('input', { type: 'checkbox', id: 'opinions-filter-mine', checked: role === 'group_leader' })
    : null;
  const listBox = h('div', { id: 'opinions-tickets' }, h('p', { class: 'muted' }, t('common.loading')));
  const countLine = h('p', { class: 'muted', id: 'opinions-tickets-count' });
  const detail = h('div', { id: 'opinions-ticket-detail' });
  const satBox = h('div', { id: 'opinions-satisfaction' }, h('p', { class: 'muted' }, t('common.loading')));

  const filters = h('div', { class: 'row' },
    field(t('opinions.filter.status'), status),
    field(t('opinions.filter.category'), category),
    field(t('opinions.filter.q'), q),
    mine ? h('label', { class: 'field checks' }, h('span', {}, mine, ' ', t('opinions.filter.mine'))) : null,
    h('div', { class: 'field' }, button(t('common.refresh'), () => load(), { id: 'opinions-refresh' })),
    h('div', { class: 'field' }, button(t('opinions.export'), () => download('/opinions/tickets.csv', 'tickets.csv'),
      { id: 'opinions-export' })));

  el.append(detail,
    card(t('opinions.tickets.title'), filters, countLine, listBox),
    card(t('opinions.satisfaction.title'), satBox));

  status.addEventListener('change', () => load());
  if (mine) mine.addEventListener('change', () => load());
  category.addEventListener('change', () => draw());
  q.addEventListener('input', () => draw());

  async function load() {
    try {
      const params = new URLSearchParams();
      if (status.value) params.set('status', status.value);
      if (mine && mine.checked) params.set('mine', 'true');
      const s = params.toString();
      const data = await api.get('/opinions/tickets' + (s ? '?' + s : ''));
      if (!alive) return;
      tickets = data.items || [];
      total = data.total ?? tickets.length;
      // Categories come from the data (the config's names and 其他).
      const cats = [...new Set(tickets.map((x) => x.category).filter(Boolean))].sort();
      const keep = category.value;
      fill(category, option('', t('opinions.category.all')),
        ...cats.map((c) => option(c, c, c === keep)));
      if (keep && !cats.includes(keep)) category.append(option(keep, keep, true));
      draw();
    } catch (e) {
      if (!alive) return;
      fill(listBox, e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e));
      countLine.textContent = '';
    }
  }

  function draw() {
    const cat = category.value;
    const needle = q.value.trim().toLowerCase();
    const rows = tickets.filter((x) => (!cat || x.category === cat) && (!needle || [
      x.number, x.text, x.category, x.kind, x.org_unit, x.sender && x.sender.name, x.answer,
    ].some((v) => typeof v === 'string' && v.toLowerCase().includes(needle))));
    countLine.textContent = t('opinions.tickets.shown', { shown: rows.length, total })
      + (total > tickets.length ? t('opinions.tickets.capped', { n: tickets.length }) : '');
    const cols = [
      { label: t('opinions.col.number'), render: (x) => h('a', {
        href: '#/opinions/tickets/' + enc(x.number), id: 'opinions-open-' + x.number,
        onclick: (ev) => { ev.preventDefault(); ev.stopPropagation(); open(x.number); },
      }, x.number) },
      { label: t('opinions.col.category'), render: (x) => [x.category, x.kind && x.kind !== '意见' ? ' · ' + x.kind : ''] },
      { label: t('opinions.col.unit'), render: (x) => x.org_unit === null ? t('opinions.no_unit') : unitName(x.org_unit) },
      { label: t('opinions.col.sender'), render: (x) => senderText(x.sender) },
      { label: t('opinions.col.text'), render: (x) => (x.text.length > 40 ? x.text.slice(0, 40) + '…' : x.text) },
      { label: t('opinions.col.due'), render: dueCell },
      { label: t('opinions.col.status'), render: statusBadge },
      { label: t('opinions.col.rating'), render: ratingBadge },
    ];
    fill(listBox, table(cols, rows, {
      id: 'opinions-tickets-table',
      empty: t('opinions.tickets.empty'),
      rowAttrs: (x) => ({
        id: 'opinions-ticket-' + x.number,
        class: x.number === selected ? 'selected' : '',
        dataset: { number: x.number, status: x.status, overdue: isOverdue(x) ? '1' : '0' },
        onclick: () => open(x.number),
      }),
    }));
  }

  async function open(number) {
    selected = number;
    for (const tr of listBox.querySelectorAll('tr[data-number]')) tr.classList.toggle('selected', tr.dataset.number === number);
    remember('tickets', number);
    fill(detail, card(number, h('p', { class: 'muted' }, t('common.loading'))));
    try {
      const tk = await api.get('/opinions/tickets/' + enc(number));
      if (!alive || selected !== number) return;
      showTicket(tk);
    } catch (e) {
      if (!alive) return;
      fill(detail, card(number, e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e),
        closeButton()));
    }
  }

  function closeButton() {
    return button(t('common.close'), () => { selected = ''; clear(detail); remember('tickets'); draw(); },
      { id: 'opinions-ticket-close', kind: 'small' });
  }

  function showTicket(tk) {
    const s = tk.sender || {};
    const facts = [
      [t('opinions.ticket.kind'), [tk.kind, ' · ', tk.category]],
      [t('opinions.ticket.sender'), [senderText(s),
        s.household ? ' · ' + t('opinions.ticket.household') + ' ' + s.household : '',
        s.phone ? ' · ' + s.phone : '']],
      [t('opinions.ticket.unit'), tk.org_unit === null ? t('opinions.no_unit') : unitName(tk.org_unit)],
      [t('opinions.ticket.created'), time(tk.created_at_ms)],
      [t('opinions.ticket.due'), dueCell(tk)],
      [t('opinions.ticket.level'), t('opinions.ticket.level_n', { n: tk.level })],
      [t('opinions.ticket.assignee'), tk.assignee_person_id ? '#' + tk.assignee_person_id : '—'],
      [t('opinions.ticket.status'), statusBadge(tk)],
    ];
    const body = [
      h('div', { class: 'plan' }, facts.map(([k, v]) => h('div', {}, h('small', { class: 'muted' }, k), h('div', {}, v)))),
      h('h3', {}, t('opinions.ticket.text')),
      h('pre', { class: 'report', id: 'opinions-ticket-text' }, tk.text),
    ];
    if (tk.answer !== null && tk.answer !== undefined) {
      body.push(h('h3', {}, t('opinions.ticket.answer')),
        h('pre', { class: 'report', id: 'opinions-ticket-answer' }, tk.answer),
        h('p', { class: 'muted' }, t('opinions.ticket.answered_by', { by: tk.answered_by || '—', at: time(tk.answered_at_ms) })),
        h('p', { id: 'opinions-ticket-rating' }, t('opinions.ticket.rating'), t('opinions.colon'), ratingBadge(tk)));
    }
    if (tk.status === 'open') body.push(canAnswer ? replyBox(tk) : h('p', { class: 'muted' }, t('opinions.reply.readonly')));
    body.push(h('div', { class: 'row' }, closeButton()));
    fill(detail, h('section', { class: 'card', id: 'opinions-ticket', dataset: { number: tk.number } },
      h('h2', {}, tk.number, ' ', statusBadge(tk)), ...body));
    detail.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  function replyBox(tk) {
    const text = h('textarea', { id: 'opinions-reply-text', maxlength: '4000' });
    const message = h('div', { id: 'opinions-reply-error', role: 'alert' });
    const fail = (msg) => { message.className = 'error'; message.textContent = msg; };
    const send = h('button', { type: 'button', class: 'primary', id: 'opinions-reply-send' }, t('opinions.reply.send'));
    send.addEventListener('click', async () => {
      message.className = ''; message.textContent = '';
      const value = text.value.trim();
      if (!value) { fail(t('opinions.reply.empty')); text.focus(); return; }
      send.disabled = true;
      try {
        const answered = await api.post('/opinions/tickets/' + enc(tk.number) + '/answer', { text: value });
        toast(t('opinions.reply.sent', { number: tk.number }));
        if (!alive) return;
        showTicket(answered);
        load();
      } catch (e) {
        // 409: answered meanwhile; 403: a group leader answering another's ticket. Shown in place.
        fail(errorText(e));
        if (e.status === 409) load();
      } finally {
        send.disabled = false;
      }
    });
    const notMine = role === 'group_leader' && tk.assignee_person_id && tk.assignee_person_id !== ctx.session.person_id;
    return h('div', { class: 'reply' },
      field(t('opinions.reply.label'), text, notMine ? t('opinions.reply.not_yours') : null),
      message, h('div', { class: 'row' }, send));
  }

  async function loadSatisfaction() {
    try {
      const sat = await api.get('/opinions/satisfaction');
      // Unit ids → paths and handler ids → names where this role may read them (a group leader
      // may not: then "#id").
      const units = new Map();
      if (ctx.can('cadre', 'supervisor')) {
        try {
          const ou = await api.get('/org-units?per_page=500');
          for (const u of ou.items || []) units.set(u.id, u.path);
        } catch { /* shown as #id */ }
      }
      const handlers = new Map();
      if (ctx.can('cadre', 'supervisor')) {
        await Promise.all((sat.by_handler || []).filter((x) => x.id > 0).map(async (x) => {
          try { handlers.set(x.id, (await api.get('/persons/' + x.id)).name); } catch { /* #id */ }
        }));
      }
      if (!alive) return;
      const rate = (x) => (x.satisfaction === null || x.satisfaction === undefined ? '—' : pct(x.satisfaction));
      const common = [
        { label: t('opinions.sat.tickets'), key: 'tickets' },
        { label: t('opinions.sat.answered'), key: 'answered' },
        { label: t('opinions.sat.satisfied'), key: 'satisfied' },
        { label: t('opinions.sat.unsatisfied'), key: 'unsatisfied' },
        { label: t('opinions.sat.rate'), render: rate },
      ];
      const unitLabel = (x) => (x.id === 0 ? t('opinions.no_unit') : units.has(x.id) ? unitName(units.get(x.id)) : '#' + x.id);
      const handlerLabel = (x) => (x.id === 0 ? t('opinions.sat.unanswered') : handlers.get(x.id) || '#' + x.id);
      fill(satBox, 
        table([{ label: t('opinions.sat.unit'), render: unitLabel }, ...common], sat.by_unit,
          { id: 'opinions-satisfaction-units', rowAttrs: (x) => ({ dataset: { unitId: x.id } }) }),
        h('h3', {}, t('opinions.satisfaction.handlers')),
        table([{ label: t('opinions.sat.handler'), render: handlerLabel }, ...common], sat.by_handler,
          { id: 'opinions-satisfaction-handlers', rowAttrs: (x) => ({ dataset: { personId: x.id } }) }));
    } catch (e) {
      if (!alive) return;
      fill(satBox, e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e));
    }
  }

  load().then(() => { if (openNumber && alive) open(openNumber); });
  loadSatisfaction();
  return () => { alive = false; };
}

// ───────────────────────────── polls ─────────────────────────────

function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function pollsTab(el, ctx, openCode) {
  let alive = true;
  let polls = [];
  let current = '';
  let stopLive = null;
  const resultsBox = h('div', { id: 'opinions-poll-results' });
  const listBox = h('div', { id: 'opinions-polls' }, h('p', { class: 'muted' }, t('common.loading')));
  const listCard = card(t('opinions.polls.title'),
    h('div', { class: 'row' }, button(t('common.refresh'), () => loadList(), { id: 'opinions-polls-refresh' })), listBox);
  el.append(resultsBox, ctx.can('cadre') ? h('div', { class: 'grid' }, listCard, pollForm()) : listCard);

  function stop() { if (stopLive) { stopLive(); stopLive = null; } }

  async function loadList() {
    try {
      const data = await api.get('/opinions/polls');
      if (!alive) return;
      polls = data.items || [];
      fill(listBox, table([
        { label: t('opinions.poll.code'), render: (p) => h('a', {
          href: '#/opinions/polls/' + enc(p.code), id: 'opinions-open-poll-' + p.code,
          onclick: (ev) => { ev.preventDefault(); ev.stopPropagation(); openPoll(p.code); },
        }, p.code) },
        { label: t('opinions.poll.question'), key: 'question' },
        { label: t('opinions.poll.mode'), render: (p) => [
          t(p.per_household ? 'opinions.poll.per_household' : 'opinions.poll.per_person'),
          p.anonymous ? [' ', h('span', { class: 'badge' }, t('opinions.poll.anonymous'))] : ''] },
        { label: t('opinions.poll.deadline'), render: (p) => time(p.deadline_ms) },
        { label: t('opinions.poll.status'), render: (p) => (p.status === 'closed'
          ? h('span', { class: 'badge' }, t('opinions.poll.closed'))
          : h('span', { class: 'badge ok' }, t('opinions.poll.open'))) },
      ], polls, {
        id: 'opinions-polls-table',
        empty: t('opinions.polls.empty'),
        rowAttrs: (p) => ({ id: 'opinions-poll-' + p.code, class: p.code === current ? 'selected' : '',
          dataset: { code: p.code, status: p.status }, onclick: () => openPoll(p.code) }),
      }));
    } catch (e) {
      if (!alive) return;
      fill(listBox, e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e));
    }
  }

  function openPoll(code) {
    stop();
    current = code;
    remember('polls', code);
    for (const tr of listBox.querySelectorAll('tr[data-code]')) tr.classList.toggle('selected', tr.dataset.code === code);
    const meta = polls.find((p) => p.code === code) || {};
    const live = h('div', { id: 'opinions-poll-live' }, h('p', { class: 'muted' }, t('common.loading')));
    const updated = h('small', { class: 'muted', id: 'opinions-poll-updated' });
    const votesBox = h('div', { id: 'opinions-poll-votes-list' });
    const actions = h('div', { class: 'row', id: 'opinions-poll-actions' },
      button(t('opinions.poll.csv'), () => download('/opinions/polls/' + enc(code) + '/results.csv', code + '-results.csv'),
        { id: 'opinions-poll-csv' }));
    const closeBtn = ctx.can('cadre') && meta.status !== 'closed' ? button(t('opinions.poll.close'), async () => {
      if (!confirm(t('opinions.poll.close_confirm', { code }))) return;
      const r = await api.post('/opinions/polls/' + enc(code) + '/close');
      toast(t('opinions.poll.closed_now', { code }));
      if (!alive || current !== code) return;
      closeBtn.remove();
      stop();
      draw(r);
      loadList();
    }, { id: 'opinions-poll-close', kind: 'danger' }) : null;
    if (closeBtn) actions.append(closeBtn);
    if (!meta.anonymous) {
      actions.append(button(t('opinions.poll.show_votes'), async () => {
        const data = await api.get('/opinions/polls/' + enc(code) + '/votes');
        const texts = meta.options || [];
        fill(votesBox, h('h3', {}, t('opinions.poll.votes_title')), table([
          { label: t('opinions.poll.vote_name'), key: 'name' },
          { label: t('opinions.poll.vote_household'), key: 'household' },
          { label: t('opinions.poll.vote_option'), render: (v) => v.option + (texts[v.option - 1] ? '. ' + texts[v.option - 1] : '') },
          { label: t('opinions.poll.vote_at'), render: (v) => time(v.voted_at_ms) },
        ], data.items, { id: 'opinions-poll-votes-table' }));
      }, { id: 'opinions-poll-votes' }));
    }
    actions.append(button(t('opinions.poll.hide'), () => { stop(); current = ''; clear(resultsBox); remember('polls'); loadList(); },
      { id: 'opinions-poll-hide', kind: 'small' }));
    fill(resultsBox, h('section', { class: 'card', id: 'opinions-poll', dataset: { code } },
      h('h2', {}, code, ' ', meta.question || ''),
      h('p', { class: 'muted' }, meta.deadline_ms ? t('opinions.poll.deadline') + t('opinions.colon') + time(meta.deadline_ms) + ' · ' : '',
        t('opinions.poll.hint_vote', { code })),
      live, updated, actions, votesBox));

    function draw(r) {
      const voters = r.voters || 0;
      const top = Math.max(0, ...r.options.map((o) => o.votes));
      fill(live, 
        h('p', {},
          r.closed ? h('span', { class: 'badge', id: 'opinions-poll-state' }, t('opinions.poll.closed'))
            : h('span', { class: 'badge ok', id: 'opinions-poll-state' }, t('opinions.poll.open'), ' · ', t('opinions.poll.live')),
          ' ', h('span', { class: 'badge' }, t(r.per_household ? 'opinions.poll.per_household' : 'opinions.poll.per_person')),
          meta.anonymous ? [' ', h('span', { class: 'badge' }, t('opinions.poll.anonymous'))] : ''),
        h('div', { class: 'plan' },
          h('div', {}, h('small', { class: 'muted' }, t(r.per_household ? 'opinions.poll.voters_households' : 'opinions.poll.voters')),
            h('b', { id: 'opinions-poll-voters' }, String(voters))),
          h('div', {}, h('small', { class: 'muted' }, t('opinions.poll.eligible')), h('b', { id: 'opinions-poll-eligible' }, String(r.eligible))),
          h('div', {}, h('small', { class: 'muted' }, t('opinions.poll.turnout')), h('b', { id: 'opinions-poll-turnout' }, pct(r.turnout)))),
        h('h3', {}, t('opinions.poll.options_title')),
        bars(r.options.map((o) => ({
          label: o.n + '. ' + o.text + ' — ' + t('opinions.poll.votes_n', { n: o.votes }),
          value: voters > 0 ? o.votes / voters : 0,
          text: pct0(voters > 0 ? o.votes / voters : 0),
          data: { option: String(o.n), votes: String(o.votes), top: o.votes === top && top > 0 ? '1' : '0' },
        })), { id: 'opinions-poll-options' }),
        h('h3', {}, t('opinions.poll.turnout_title')),
        (r.by_unit || []).length === 0 ? h('p', { class: 'empty' }, t('common.none')) : bars(r.by_unit.map((u) => ({
          label: unitName(u.unit) + ' — ' + t('opinions.poll.voted_of', { voted: u.voted, eligible: u.eligible }),
          value: u.turnout,
          text: pct0(u.turnout),
          data: { unit: u.unit, eligible: String(u.eligible), voted: String(u.voted) },
        })), { id: 'opinions-poll-turnout-units' }));
      updated.textContent = t('opinions.poll.updated', { at: new Date().toLocaleTimeString(currentLang() === 'en' ? 'en' : 'zh-CN') });
    }

    const stopThis = every(5000, async () => {
      try {
        const r = await api.get('/opinions/polls/' + enc(code) + '/results');
        if (!alive || current !== code) return;
        draw(r);
        if (r.closed) {
          if (closeBtn) closeBtn.remove();
          if (stopLive === stopThis) stop(); // a closed poll's results do not change
        }
      } catch (e) {
        if (!alive || current !== code) return;
        fill(live, e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e));
      }
    });
    stopLive = stopThis;
    resultsBox.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  function pollForm() {
    const question = h('input', { type: 'text', id: 'opinions-poll-question', maxlength: '1000', placeholder: t('opinions.new.question_ph') });
    const optionsBox = h('div', { id: 'opinions-poll-options-inputs' });
    let optionInputs = [];
    const addBtn = h('button', { type: 'button', id: 'opinions-poll-add-option', class: 'small' }, t('opinions.new.add_option'));
    const removeBtn = h('button', { type: 'button', id: 'opinions-poll-remove-option', class: 'small' }, t('opinions.new.remove_last'));
    function drawOptions() {
      clear(optionsBox);
      optionInputs.forEach((input, i) => {
        input.id = 'opinions-poll-option-' + (i + 1);
        optionsBox.append(field(t('opinions.new.option_n', { n: i + 1 }), input));
      });
      addBtn.disabled = optionInputs.length >= 9;
      removeBtn.disabled = optionInputs.length <= 2;
    }
    const newOption = (v = '') => h('input', { type: 'text', maxlength: '200', value: v });
    addBtn.addEventListener('click', () => {
      if (optionInputs.length >= 9) return;
      optionInputs.push(newOption());
      drawOptions();
      optionInputs[optionInputs.length - 1].focus();
    });
    removeBtn.addEventListener('click', () => {
      if (optionInputs.length <= 2) return;
      optionInputs.pop();
      drawOptions();
    });

    const scope = (ctx.session.me && ctx.session.me.scope) || { whole_village: true, org_units: [] };
    const scoped = ctx.session.role === 'cadre' && !scope.whole_village;
    const all = h('input', { type: 'radio', name: 'opinions-poll-audience', id: 'opinions-poll-audience-all', value: 'all', checked: !scoped });
    const some = h('input', { type: 'radio', name: 'opinions-poll-audience', id: 'opinions-poll-audience-units', value: 'units', checked: scoped });
    const unitsBox = h('div', { class: 'checks', id: 'opinions-poll-units' }, h('span', { class: 'muted' }, t('opinions.new.units_loading')));
    let unitsLoaded = false;
    const unitsWrap = h('div', { id: 'opinions-poll-units-wrap' }, unitsBox);
    const syncAudience = () => {
      unitsWrap.hidden = !some.checked;
      if (some.checked && !unitsLoaded) loadUnits();
    };
    all.addEventListener('change', syncAudience);
    some.addEventListener('change', syncAudience);
    async function loadUnits() {
      unitsLoaded = true;
      try {
        const data = await api.get('/org-units?per_page=500');
        const preset = new Set((scope.org_units || []).map((u) => u.id));
        const items = (data.items || []).filter((u) => u.parent_id !== null).sort((a, b) => a.path.localeCompare(b.path, 'zh'));
        fill(unitsBox, items.length === 0 ? h('span', { class: 'muted' }, t('opinions.new.units_none')) : items.map((u) =>
          h('label', {}, h('input', { type: 'checkbox', id: 'opinions-poll-unit-' + u.id, value: String(u.id),
            checked: scoped && preset.has(u.id) }), ' ', u.path)));
      } catch (e) {
        unitsLoaded = false;
        fill(unitsBox, errorBox(e));
      }
    }
    const perHousehold = h('input', { type: 'checkbox', id: 'opinions-poll-per-household', checked: true });
    const anonymous = h('input', { type: 'checkbox', id: 'opinions-poll-anonymous' });
    const deadline = h('input', { type: 'datetime-local', id: 'opinions-poll-deadline' });
    const message = h('div', { id: 'opinions-poll-form-error', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'opinions-poll-create' }, t('opinions.new.submit'));

    function reset() {
      question.value = '';
      optionInputs = [newOption(), newOption()];
      drawOptions();
      deadline.value = localInput(Date.now() + 48 * 3600 * 1000);
      deadline.min = localInput(Date.now());
      message.className = ''; message.textContent = '';
    }
    reset();
    syncAudience();

    const form = h('form', { class: 'card', id: 'opinions-poll-form' },
      h('h2', {}, t('opinions.new.title')),
      field(t('opinions.new.question'), question),
      h('div', { class: 'field' }, h('span', { class: 'label' }, t('opinions.new.options')), optionsBox, h('div', { class: 'row' }, addBtn, removeBtn)),
      h('div', { class: 'field' }, h('span', { class: 'label' }, t('opinions.new.audience')),
        h('div', { class: 'checks' },
          h('label', {}, all, ' ', t('opinions.new.audience_all')),
          h('label', {}, some, ' ', t('opinions.new.audience_units'))),
        unitsWrap),
      h('div', { class: 'checks field' },
        h('label', {}, perHousehold, ' ', t('opinions.new.per_household')),
        h('label', {}, anonymous, ' ', t('opinions.new.anonymous'))),
      field(t('opinions.new.deadline'), deadline),
      message,
      h('div', { class: 'row' }, submit));

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const fail = (msg) => { message.className = 'error'; message.textContent = msg; };
      message.className = ''; message.textContent = '';
      const q = question.value.trim();
      if (!q) return fail(t('opinions.new.err_question'));
      const opts = optionInputs.map((i) => i.value.trim());
      if (opts.length < 2 || opts.length > 9 || opts.some((o) => !o)) return fail(t('opinions.new.err_options'));
      let audience = { everyone: true };
      if (some.checked) {
        const ids = [...unitsBox.querySelectorAll('input[type=checkbox]:checked')].map((c) => Number(c.value));
        if (ids.length === 0) return fail(t('opinions.new.err_units'));
        audience = { org_units: ids };
      }
      const when = deadline.value ? new Date(deadline.value).getTime() : NaN;
      if (!Number.isFinite(when) || when <= Date.now() + 60 * 1000) return fail(t('opinions.new.err_deadline'));
      submit.disabled = true;
      try {
        const created = await api.post('/opinions/polls', {
          question: q, options: opts, audience, per_household: perHousehold.checked, anonymous: anonymous.checked, deadline: when,
        });
        toast(t('opinions.new.created', { code: created.code }));
        if (!alive) return;
        reset();
        await loadList();
        if (alive) openPoll(created.code);
      } catch (e) {
        fail(errorText(e));
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  loadList().then(() => { if (openCode && alive) openPoll(openCode); });
  return () => { alive = false; stop(); };
}

// ───────────────────────── 四议两公开 proposals ─────────────────────────

function proposalsTab(el, ctx) {
  let alive = true;
  const listBox = h('div', { id: 'opinions-proposals' }, h('p', { class: 'muted' }, t('common.loading')));
  el.append(card(t('opinions.proposals.title'),
    h('div', { class: 'row' }, button(t('common.refresh'), () => load(), { id: 'opinions-proposals-refresh' })), listBox));
  if (ctx.can('cadre')) el.append(newProposalForm());

  const statusBadgeOf = (p) => h('span', {
    class: 'badge ' + ({ in_progress: 'info', resolved: 'ok', completed: 'ok', rejected: 'bad' }[p.status] || ''),
  }, t('opinions.proposal.status.' + p.status));

  async function load() {
    try {
      const data = await api.get('/opinions/proposals');
      if (!alive) return;
      const items = data.items || [];
      fill(listBox, items.length === 0 ? h('p', { class: 'empty' }, t('opinions.proposals.empty'))
        : items.map((p) => proposalCard(p)));
    } catch (e) {
      if (!alive) return;
      fill(listBox, e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e));
    }
  }

  function proposalCard(p) {
    const byStage = new Map((p.stages || []).map((s) => [s.stage, s]));
    const next = p.next_stage ? p.next_stage.stage : -1;
    const steps = h('ol', { class: 'stages', id: 'opinions-proposal-' + p.id + '-stages' });
    for (let n = 0; n <= 5; n++) {
      const s = byStage.get(n);
      let badge;
      if (s) {
        badge = h('span', { class: 'badge ' + (s.decision === 'rejected' ? 'bad' : s.decision === 'published' ? 'info' : 'ok') },
          t('opinions.decision.' + s.decision));
      } else if (n === next) {
        badge = h('span', { class: 'badge warn' }, t('opinions.decision.next'));
      } else {
        badge = h('span', { class: 'badge' }, t('opinions.decision.pending'));
      }
      steps.append(h('li', { dataset: { stage: String(n), decision: s ? s.decision : n === next ? 'next' : 'pending' } },
        h('b', {}, t('opinions.stage.' + n)), ' ', badge,
        s ? h('div', { class: 'muted' },
          s.poll ? t('opinions.proposal.poll', { code: s.poll }) + ' · ' : '',
          s.note ? s.note + ' · ' : '',
          t('opinions.proposal.by', { by: s.decided_by, at: time(s.decided_at_ms) })) : null));
    }
    const box = h('section', { class: 'card', id: 'opinions-proposal-' + p.id, dataset: { status: p.status } },
      h('h2', {}, p.title, ' ', statusBadgeOf(p)),
      p.description ? h('pre', { class: 'report' }, p.description) : null,
      h('p', { class: 'muted' }, t('opinions.proposal.by', { by: p.created_by, at: time(p.created_at_ms) })),
      steps);
    if (ctx.can('cadre') && next >= 0 && next <= 3 && p.status === 'in_progress') box.append(decideForm(p, next));
    if (ctx.can('cadre') && (next === 4 || next === 5) && p.status !== 'rejected' && p.status !== 'completed') box.append(discloseForm(p, next));
    return box;
  }

  function decideForm(p, stage) {
    const pre = 'opinions-proposal-' + p.id;
    const note = h('input', { type: 'text', id: pre + '-note', maxlength: '1000' });
    const decide = async (passed) => {
      if (!passed && !confirm(t('opinions.proposal.reject_confirm'))) return;
      await api.post(`/opinions/proposals/${p.id}/stages/${stage}`, { passed, note: note.value.trim() });
      toast(t('opinions.proposal.recorded', { stage: t('opinions.stage.' + stage) }));
      load();
    };
    const form = h('div', { class: 'stage-form' },
      h('h3', {}, t('opinions.stage.' + stage)),
      field(t('opinions.proposal.note'), note),
      h('div', { class: 'row' },
        button(t('opinions.proposal.pass'), () => decide(true), { id: pre + '-pass', kind: 'primary' }),
        button(t('opinions.proposal.reject'), () => decide(false), { id: pre + '-reject', kind: 'danger' })));
    if (stage === 3) {
      const poll = h('input', { type: 'text', id: pre + '-poll', placeholder: 'P3', maxlength: '20' });
      form.append(h('div', { class: 'row' },
        field(t('opinions.proposal.poll_code'), poll, t('opinions.proposal.poll_hint')),
        h('div', { class: 'field' }, button(t('opinions.proposal.by_poll'), async () => {
          const code = poll.value.trim();
          if (!code) { poll.focus(); return; }
          await api.post(`/opinions/proposals/${p.id}/stages/3`, { poll: code, note: note.value.trim() });
          toast(t('opinions.proposal.recorded', { stage: t('opinions.stage.3') }));
          load();
        }, { id: pre + '-by-poll' }))));
    }
    return form;
  }

  function discloseForm(p, stage) {
    const pre = 'opinions-proposal-' + p.id;
    const body = h('textarea', { id: pre + '-body', maxlength: '4000' });
    return h('div', { class: 'stage-form' },
      h('h3', {}, t('opinions.stage.' + stage)),
      field(t('opinions.proposal.body'), body),
      h('div', { class: 'row' }, button(t('opinions.proposal.disclose', { stage: t('opinions.stage.' + stage) }), async () => {
        const text = body.value.trim();
        if (!text) { toast(t('opinions.proposal.err_body'), 'bad'); body.focus(); return; }
        await api.post(`/opinions/proposals/${p.id}/disclosures/${stage}`, { body: text });
        toast(t('opinions.proposal.recorded', { stage: t('opinions.stage.' + stage) }));
        load();
      }, { id: pre + '-disclose', kind: 'primary' })));
  }

  function newProposalForm() {
    const title = h('input', { type: 'text', id: 'opinions-proposal-title', maxlength: '200' });
    const description = h('textarea', { id: 'opinions-proposal-description', maxlength: '4000' });
    return card(t('opinions.proposal.new'),
      field(t('opinions.proposal.title_label'), title),
      field(t('opinions.proposal.description'), description),
      h('div', { class: 'row' }, button(t('opinions.proposal.create'), async () => {
        const v = title.value.trim();
        if (!v) { toast(t('opinions.proposal.err_title'), 'bad'); title.focus(); return; }
        await api.post('/opinions/proposals', { title: v, description: description.value.trim() });
        toast(t('opinions.proposal.created'));
        title.value = ''; description.value = '';
        load();
      }, { id: 'opinions-proposal-create', kind: 'primary' })));
  }

  load();
  return () => { alive = false; };
}

// ───────────────────────────── the view ─────────────────────────────

const TABS = { tickets: ticketsTab, polls: pollsTab, proposals: proposalsTab };

export default {
  id: 'opinions',
  nav: 'nav.opinions',
  roles: ['cadre', 'supervisor', 'group_leader'],
  render(root, ctx) {
    const params = ctx.params || [];
    const initial = TABS[params[0]] ? params[0] : 'tickets';
    const body = h('div', { id: 'opinions-tab' });
    let stopTab = null;
    const show = (id, item) => {
      if (typeof stopTab === 'function') stopTab();
      stopTab = null;
      clear(body);
      body.dataset.tab = id;
      stopTab = TABS[id](body, ctx, item);
    };
    root.append(
      h('h1', {}, t('nav.opinions')),
      tabs(Object.keys(TABS).map((id) => ({ id, label: t('opinions.tab.' + id) })), (id) => { remember(id); show(id); }, initial),
      body);
    let item;
    try { item = params[1] ? decodeURIComponent(params[1]) : undefined; } catch { item = undefined; }
    show(initial, item);
    return () => { if (typeof stopTab === 'function') stopTab(); stopTab = null; };
  },
};
