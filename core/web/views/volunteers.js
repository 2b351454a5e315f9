// 志愿 (issue 12): the posts, the shift calendar of the coming four weeks (sign-ups, new shifts,
// cancelling), the rota preview and publish, and the fairness report.
// API: docs/API.md "Volunteers" (/api/v1/volunteers/…).
import { api, download, query } from '../api.js';
import { t, registerStrings } from '../i18n.js';
import { h, clear, table, time, errorText, errorBox, toast, card, field, button, tabs, fill } from '../ui.js';

registerStrings({
  zh: {
    'volunteers.colon': '：', 'volunteers.tab.posts': '岗位', 'volunteers.tab.calendar': '排班日历', 'volunteers.tab.rota': '排班预览与发布',
    'volunteers.tab.fairness': '公平性',
    // posts
    'volunteers.posts.title': '志愿岗位', 'volunteers.posts.empty': '配置中没有岗位（[[plugins.volunteers.posts]]）。',
    'volunteers.post.code': '代码', 'volunteers.post.name': '岗位', 'volunteers.post.place': '地点',
    'volunteers.post.role': '限定身份', 'volunteers.post.role_any': '不限', 'volunteers.post.points': '积分',
    'volunteers.post.points_rule': '规则 {rule}', 'volunteers.post.points_n': '{n} 分', 'volunteers.post.ics': '日历',
    'volunteers.post.ics_button': '下载 .ics',
    'volunteers.role.party_member': '党员', 'volunteers.role.volunteer': '志愿者', 'volunteers.role.emergency_team': '应急队员',
    'volunteers.role.central_household_head': '中心户长', 'volunteers.role.group_leader': '组长', 'volunteers.role.cadre': '村干部',
    'volunteers.role.villager': '村民', 'volunteers.role.evaluator': '评议员', 'volunteers.role.supervisor': '监督委员',
    'volunteers.role.commander': '指挥长', 'volunteers.role.admin': '管理员',
    // calendar
    'volunteers.cal.title': '排班日历：{from} 至 {to}', 'volunteers.cal.prev': '前四周', 'volunteers.cal.next': '后四周',
    'volunteers.cal.today': '回到今天', 'volunteers.cal.post': '岗位', 'volunteers.cal.all_posts': '全部岗位',
    'volunteers.cal.empty_day': '', 'volunteers.cal.no_shifts': '这段时间没有班次。',
    'volunteers.cal.legend': '格式：岗位 时间 已报名/名额。点击班次查看报名情况。',
    'volunteers.wd.0': '周日', 'volunteers.wd.1': '周一', 'volunteers.wd.2': '周二', 'volunteers.wd.3': '周三',
    'volunteers.wd.4': '周四', 'volunteers.wd.5': '周五', 'volunteers.wd.6': '周六',
    'volunteers.shift.cancelled': '已取消', 'volunteers.shift.swap_badge': '换班', 'volunteers.shift.completed': '已结束', 'volunteers.shift.full': '已满',
    'volunteers.shift.running': '进行中', 'volunteers.shift.upcoming': '未开始', 'volunteers.shift.past': '已过',
    'volunteers.shift.title': '班次 #{id}：{post}', 'volunteers.shift.place': '地点', 'volunteers.shift.time': '时间',
    'volunteers.shift.places': '名额', 'volunteers.shift.places_n': '已报名 {signed} / {capacity}',
    'volunteers.shift.offered': '（{n} 个位置换班中）', 'volunteers.shift.cutoff': '报名截止',
    'volunteers.shift.status': '状态', 'volunteers.shift.source': '来源',
    'volunteers.shift.template': '循环模板 #{id}', 'volunteers.shift.manual': '手动添加',
    'volunteers.shift.signups': '报名名单', 'volunteers.shift.no_signups': '还没有人报名。',
    'volunteers.signup.name': '姓名', 'volunteers.signup.status': '状态', 'volunteers.signup.signed_at': '报名时间',
    'volunteers.signup.checked_in': '签到时间', 'volunteers.signup.offered': '换班', 'volunteers.signup.actions': '操作',
    'volunteers.signup.status.signed': '已报名', 'volunteers.signup.status.cancelled': '已取消',
    'volunteers.signup.status.completed': '已完成', 'volunteers.signup.status.no_show': '缺勤',
    'volunteers.signup.status.swapped': '已换班',
    'volunteers.signup.offered_at': '{at} 提出换班', 'volunteers.signup.swapped_to': '由 #{id} 接班',
    'volunteers.signup.remove': '移出', 'volunteers.signup.remove_confirm': '把 {name} 从这个班次移出？',
    'volunteers.signup.removed': '已把 {name} 移出。', 'volunteers.signup.add': '帮人报名',
    'volunteers.signup.person': '志愿者', 'volunteers.signup.pick': '选择志愿者…', 'volunteers.signup.added': '已为 {name} 报名。',
    'volunteers.signup.loading': '正在加载志愿者…',
    'volunteers.shift.cancel': '取消此班次', 'volunteers.shift.cancel_confirm': '取消班次 #{id}？已报名的人会收到通知，不发积分。',
    'volunteers.shift.cancelled_now': '班次 #{id} 已取消，已通知报名的人。',
    'volunteers.new.title': '新增班次', 'volunteers.new.post': '岗位', 'volunteers.new.start': '开始时间',
    'volunteers.new.end': '结束时间', 'volunteers.new.capacity': '名额', 'volunteers.new.cutoff': '报名截止（可不填，默认开始时间）',
    'volunteers.new.submit': '添加班次', 'volunteers.new.created': '已添加班次 #{id}。',
    'volunteers.new.err_times': '请填写开始和结束时间，结束要晚于开始（最长 24 小时）。',
    'volunteers.new.err_capacity': '名额应为 1 到 1000。',
    // rota
    'volunteers.rota.title': '排班预览', 'volunteers.rota.from': '从（含）', 'volunteers.rota.to': '到（含）',
    'volunteers.rota.preview': '生成预览', 'volunteers.rota.hint': '按志愿者的空闲、已有报名和公平原则排班；预览不会改动班次，发布后才写入并通知本人。',
    'volunteers.rota.err_period': '请选择开始和结束日期（结束不早于开始，最长一年）。',
    'volunteers.rota.draft': '草稿 #{id}', 'volunteers.rota.period': '时段', 'volunteers.rota.assigned': '安排人次',
    'volunteers.rota.unfilled_places': '排不满的名额', 'volunteers.rota.people': '参与计算的志愿者',
    'volunteers.rota.min': '最少（小时）', 'volunteers.rota.max': '最多（小时）', 'volunteers.rota.mean': '平均（小时）',
    'volunteers.rota.assignments': '安排', 'volunteers.rota.unfilled': '排不满的班次', 'volunteers.rota.problems': '问题',
    'volunteers.rota.none_assigned': '没有需要安排的名额。', 'volunteers.rota.no_problems': '没有问题。',
    'volunteers.rota.shift': '班次', 'volunteers.rota.post': '岗位', 'volunteers.rota.time': '时间',
    'volunteers.rota.person': '志愿者', 'volunteers.rota.missing': '缺 {n} 人', 'volunteers.rota.short': '缺额', 'volunteers.rota.problem': '问题',
    'volunteers.rota.publish': '发布排班并通知本人', 'volunteers.rota.publish_confirm': '发布草稿 #{id}？会写入 {n} 条报名并逐一通知。',
    'volunteers.rota.published': '已发布 {published} 条，跳过 {skipped} 条。',
    'volunteers.rota.published_already': '这份草稿已经发布过，没有重复通知。',
    'volunteers.rota.skipped': '跳过的安排',
    'volunteers.problem.unknown_shift': '班次不存在或不在时段内', 'volunteers.problem.unknown_person': '不是可排班的志愿者',
    'volunteers.problem.duplicate': '重复安排', 'volunteers.problem.over_capacity': '名额已满',
    'volunteers.problem.role': '身份不符合岗位要求', 'volunteers.problem.unavailable': '本人已请假或时间冲突',
    'volunteers.problem.rest': '两班之间休息不够', 'volunteers.problem.taken_meanwhile': '预览后名额已被别人报走',
    // fairness
    'volunteers.fair.title': '公平性报告', 'volunteers.fair.load': '查看',
    'volunteers.fair.people': '志愿者人数', 'volunteers.fair.min': '最少（小时）', 'volunteers.fair.max': '最多（小时）',
    'volunteers.fair.mean': '平均（小时）', 'volunteers.fair.spread': '差距（小时）', 'volunteers.fair.longest': '最长班次（小时）',
    'volunteers.fair.ok': '公平：最多与最少相差不超过一个班次', 'volunteers.fair.bad': '不够公平：最多与最少相差超过一个班次',
    'volunteers.fair.overloaded': '负担过重（比平均多一个班次以上）', 'volunteers.fair.none_overloaded': '没有人负担过重。',
    'volunteers.fair.per_person': '每人时长', 'volunteers.fair.hours': '{h} 小时 · {n} 班', 'volunteers.fair.hours_short': '{h} 小时', 'volunteers.fair.shifts_n': '（{n} 班）', 'volunteers.fair.nobody': '没有志愿者。',
  },
  en: {
    'volunteers.colon': ': ', 'volunteers.tab.posts': 'Posts', 'volunteers.tab.calendar': 'Shift calendar', 'volunteers.tab.rota': 'Rota preview & publish',
    'volunteers.tab.fairness': 'Fairness',
    'volunteers.posts.title': 'Volunteer posts', 'volunteers.posts.empty': 'No posts in the config ([[plugins.volunteers.posts]]).',
    'volunteers.post.code': 'Code', 'volunteers.post.name': 'Post', 'volunteers.post.place': 'Place',
    'volunteers.post.role': 'Only for', 'volunteers.post.role_any': 'Anyone', 'volunteers.post.points': 'Points',
    'volunteers.post.points_rule': 'rule {rule}', 'volunteers.post.points_n': '{n} points', 'volunteers.post.ics': 'Calendar',
    'volunteers.post.ics_button': 'Download .ics',
    'volunteers.role.party_member': 'Party members', 'volunteers.role.volunteer': 'Volunteers', 'volunteers.role.emergency_team': 'Emergency team',
    'volunteers.role.central_household_head': 'Central household heads', 'volunteers.role.group_leader': 'Group leaders',
    'volunteers.role.cadre': 'Cadres', 'volunteers.role.villager': 'Villagers', 'volunteers.role.evaluator': 'Evaluators',
    'volunteers.role.supervisor': 'Supervisors', 'volunteers.role.commander': 'Commanders', 'volunteers.role.admin': 'Administrators',
    'volunteers.cal.title': 'Shifts from {from} to {to}', 'volunteers.cal.prev': 'Previous 4 weeks', 'volunteers.cal.next': 'Next 4 weeks',
    'volunteers.cal.today': 'Today', 'volunteers.cal.post': 'Post', 'volunteers.cal.all_posts': 'All posts',
    'volunteers.cal.empty_day': '', 'volunteers.cal.no_shifts': 'No shifts in this period.',
    'volunteers.cal.legend': 'Post, time, signed up/places. Click a shift to see who signed up.',
    'volunteers.wd.0': 'Sun', 'volunteers.wd.1': 'Mon', 'volunteers.wd.2': 'Tue', 'volunteers.wd.3': 'Wed',
    'volunteers.wd.4': 'Thu', 'volunteers.wd.5': 'Fri', 'volunteers.wd.6': 'Sat',
    'volunteers.shift.cancelled': 'Cancelled', 'volunteers.shift.swap_badge': 'swap', 'volunteers.shift.completed': 'Completed', 'volunteers.shift.full': 'Full',
    'volunteers.shift.running': 'Under way', 'volunteers.shift.upcoming': 'Upcoming', 'volunteers.shift.past': 'Past',
    'volunteers.shift.title': 'Shift #{id}: {post}', 'volunteers.shift.place': 'Place', 'volunteers.shift.time': 'Time',
    'volunteers.shift.places': 'Places', 'volunteers.shift.places_n': '{signed} of {capacity} signed up',
    'volunteers.shift.offered': ' ({n} offered for a swap)', 'volunteers.shift.cutoff': 'Sign-ups close',
    'volunteers.shift.status': 'Status', 'volunteers.shift.source': 'Made by',
    'volunteers.shift.template': 'template #{id}', 'volunteers.shift.manual': 'added by hand',
    'volunteers.shift.signups': 'Signed up', 'volunteers.shift.no_signups': 'Nobody has signed up yet.',
    'volunteers.signup.name': 'Name', 'volunteers.signup.status': 'Status', 'volunteers.signup.signed_at': 'Signed up',
    'volunteers.signup.checked_in': 'Checked in', 'volunteers.signup.offered': 'Swap', 'volunteers.signup.actions': 'Actions',
    'volunteers.signup.status.signed': 'Signed up', 'volunteers.signup.status.cancelled': 'Cancelled',
    'volunteers.signup.status.completed': 'Completed', 'volunteers.signup.status.no_show': 'No-show',
    'volunteers.signup.status.swapped': 'Swapped',
    'volunteers.signup.offered_at': 'offered {at}', 'volunteers.signup.swapped_to': 'taken over by #{id}',
    'volunteers.signup.remove': 'Remove', 'volunteers.signup.remove_confirm': 'Take {name} off this shift?',
    'volunteers.signup.removed': '{name} taken off.', 'volunteers.signup.add': 'Sign up',
    'volunteers.signup.person': 'Volunteer', 'volunteers.signup.pick': 'Choose a volunteer…', 'volunteers.signup.added': '{name} signed up.',
    'volunteers.signup.loading': 'Loading volunteers…',
    'volunteers.shift.cancel': 'Cancel this shift', 'volunteers.shift.cancel_confirm': 'Cancel shift #{id}? Those signed up are told; no points are awarded.',
    'volunteers.shift.cancelled_now': 'Shift #{id} cancelled; those signed up were told.',
    'volunteers.new.title': 'New shift', 'volunteers.new.post': 'Post', 'volunteers.new.start': 'Start',
    'volunteers.new.end': 'End', 'volunteers.new.capacity': 'Places', 'volunteers.new.cutoff': 'Sign-ups close (optional; default: the start)',
    'volunteers.new.submit': 'Add shift', 'volunteers.new.created': 'Shift #{id} added.',
    'volunteers.new.err_times': 'Give a start and an end after it (at most 24 hours).',
    'volunteers.new.err_capacity': 'Places must be 1 to 1000.',
    'volunteers.rota.title': 'Rota preview', 'volunteers.rota.from': 'From (inclusive)', 'volunteers.rota.to': 'To (inclusive)',
    'volunteers.rota.preview': 'Preview', 'volunteers.rota.hint': 'The rota follows the volunteers\' absences, existing sign-ups and fairness. A preview changes no shift; publishing writes the sign-ups and tells each person.',
    'volunteers.rota.err_period': 'Choose a start and an end date (the end not before the start, at most a year).',
    'volunteers.rota.draft': 'Draft #{id}', 'volunteers.rota.period': 'Period', 'volunteers.rota.assigned': 'Assignments',
    'volunteers.rota.unfilled_places': 'Places left unfilled', 'volunteers.rota.people': 'Volunteers considered',
    'volunteers.rota.min': 'Least (hours)', 'volunteers.rota.max': 'Most (hours)', 'volunteers.rota.mean': 'Mean (hours)',
    'volunteers.rota.assignments': 'Assignments', 'volunteers.rota.unfilled': 'Shifts left short', 'volunteers.rota.problems': 'Problems',
    'volunteers.rota.none_assigned': 'No places to fill.', 'volunteers.rota.no_problems': 'No problems.',
    'volunteers.rota.shift': 'Shift', 'volunteers.rota.post': 'Post', 'volunteers.rota.time': 'Time',
    'volunteers.rota.person': 'Volunteer', 'volunteers.rota.missing': '{n} short', 'volunteers.rota.short': 'Missing', 'volunteers.rota.problem': 'Problem',
    'volunteers.rota.publish': 'Publish and tell each person', 'volunteers.rota.publish_confirm': 'Publish draft #{id}? {n} sign-ups are written and each person is told.',
    'volunteers.rota.published': '{published} published, {skipped} skipped.',
    'volunteers.rota.published_already': 'This draft was published before; nobody was told twice.',
    'volunteers.rota.skipped': 'Skipped',
    'volunteers.problem.unknown_shift': 'No such shift in the period', 'volunteers.problem.unknown_person': 'Not a volunteer who can be scheduled',
    'volunteers.problem.duplicate': 'Assigned twice', 'volunteers.problem.over_capacity': 'The shift is full',
    'volunteers.problem.role': 'Lacks the role the post needs', 'volunteers.problem.unavailable': 'Away or busy then',
    'volunteers.problem.rest': 'Too little rest between shifts', 'volunteers.problem.taken_meanwhile': 'The place was taken since the preview',
    'volunteers.fair.title': 'Fairness report', 'volunteers.fair.load': 'Show',
    'volunteers.fair.people': 'Volunteers', 'volunteers.fair.min': 'Least (hours)', 'volunteers.fair.max': 'Most (hours)',
    'volunteers.fair.mean': 'Mean (hours)', 'volunteers.fair.spread': 'Spread (hours)', 'volunteers.fair.longest': 'Longest shift (hours)',
    'volunteers.fair.ok': 'Fair: most and least differ by at most one shift', 'volunteers.fair.bad': 'Uneven: most and least differ by more than one shift',
    'volunteers.fair.overloaded': 'Overloaded (more than one shift above the mean)', 'volunteers.fair.none_overloaded': 'Nobody is overloaded.',
    'volunteers.fair.per_person': 'Hours per person', 'volunteers.fair.hours': '{h} h · {n} shifts', 'volunteers.fair.hours_short': '{h} h', 'volunteers.fair.shifts_n': ' ({n} shifts)', 'volunteers.fair.nobody': 'No volunteers.',
  },
});

const DAY = 24 * 3600 * 1000;
const p2 = (n) => String(n).padStart(2, '0');
const ymd = (d) => `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
const hm = (ms) => { const d = new Date(ms); return `${p2(d.getHours())}:${p2(d.getMinutes())}`; };
const md = (d) => `${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
const hours = (x) => String(Math.round((Number(x) || 0) * 10) / 10);
const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
const addDays = (d, n) => new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
// A date input ("YYYY-MM-DD") → local midnight, or NaN.
const dayMs = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v || '') ? new Date(v + 'T00:00').getTime() : NaN);
const localInput = (ms) => { const d = new Date(ms); return `${ymd(d)}T${hm(ms)}`; };
const roleName = (r) => { const k = 'volunteers.role.' + r; const s = t(k); return s === k ? r : s; };
const forbiddenOr = (e) => (e.status === 403 ? h('p', { class: 'error' }, t('common.forbidden')) : errorBox(e));
const option = (value, label, selected) => h('option', { value, selected: selected ? 'selected' : null }, label);
const span = (a, b) => `${ymd(new Date(a))} ${hm(a)}–${hm(b)}`;

function shiftState(s, now = Date.now()) {
  if (s.cancelled_at_ms) return 'cancelled';
  if (s.completed_at_ms || s.end_ms <= now) return 'completed';
  if (s.start_ms <= now) return 'running';
  return 'upcoming';
}

async function loadPosts() {
  const data = await api.get('/volunteers/posts');
  return data.items || [];
}

// ───────────────────────────── posts ─────────────────────────────

function postsTab(el) {
  let alive = true;
  const box = h('div', { id: 'volunteers-posts' }, h('p', { class: 'muted' }, t('common.loading')));
  el.append(card(t('volunteers.posts.title'), box));
  loadPosts().then((posts) => {
    if (!alive) return;
    fill(box, table([
      { label: t('volunteers.post.code'), key: 'code' },
      { label: t('volunteers.post.name'), key: 'name' },
      { label: t('volunteers.post.place'), key: 'place' },
      { label: t('volunteers.post.role'), render: (p) => (p.required_role
        ? h('span', { class: 'badge info' }, roleName(p.required_role)) : t('volunteers.post.role_any')) },
      { label: t('volunteers.post.points'), render: (p) => [
        p.points_rule ? t('volunteers.post.points_rule', { rule: p.points_rule }) : '',
        p.points_rule && p.points ? ' · ' : '',
        p.points ? t('volunteers.post.points_n', { n: p.points }) : '',
        !p.points_rule && !p.points ? '—' : ''] },
      { label: t('volunteers.post.ics'), render: (p) => button(t('volunteers.post.ics_button'),
        () => download('/volunteers/posts/' + encodeURIComponent(p.code) + '/calendar.ics', p.code + '.ics'),
        { id: 'volunteers-post-ics-' + p.code, kind: 'small' }) },
    ], posts, { id: 'volunteers-posts-table', empty: t('volunteers.posts.empty'),
      rowAttrs: (p) => ({ id: 'volunteers-post-' + p.code, dataset: { code: p.code } }) }));
  }).catch((e) => { if (alive) fill(box, forbiddenOr(e)); });
  return () => { alive = false; };
}

// ───────────────────────────── calendar ─────────────────────────────

function calendarTab(el, ctx, openId) {
  let alive = true;
  let offset = 0; // in blocks of 28 days from today
  let posts = [];
  let selected = 0;
  let volunteers = null; // loaded when a cadre first signs someone up
  const canWrite = ctx.can('cadre');

  const postFilter = h('select', { id: 'volunteers-calendar-post' }, option('', t('volunteers.cal.all_posts')));
  const title = h('h2', { id: 'volunteers-calendar-title' });
  const grid = h('div', { id: 'volunteers-calendar' }, h('p', { class: 'muted' }, t('common.loading')));
  const detail = h('div', { id: 'volunteers-shift-detail' });
  el.append(detail, h('section', { class: 'card' }, title,
    h('div', { class: 'row' },
      h('div', { class: 'field' }, button(t('volunteers.cal.prev'), () => { offset -= 1; load(); }, { id: 'volunteers-calendar-prev' })),
      h('div', { class: 'field' }, button(t('volunteers.cal.today'), () => { offset = 0; load(); }, { id: 'volunteers-calendar-today' })),
      h('div', { class: 'field' }, button(t('volunteers.cal.next'), () => { offset += 1; load(); }, { id: 'volunteers-calendar-next' })),
      field(t('volunteers.cal.post'), postFilter),
      h('div', { class: 'field' }, button(t('common.refresh'), () => load(), { id: 'volunteers-calendar-refresh' }))),
    h('p', { class: 'hint' }, t('volunteers.cal.legend')),
    grid));
  postFilter.addEventListener('change', () => load());

  const newForm = canWrite ? shiftForm() : null;
  if (newForm) el.append(newForm.card);

  loadPosts().then((list) => {
    if (!alive) return;
    posts = list;
    for (const p of posts) postFilter.append(option(p.code, `${p.name}（${p.code}）`));
    if (newForm) newForm.setPosts(posts);
  }).catch(() => { /* the calendar shows the error */ });

  async function load() {
    const first = addDays(midnight(new Date()), offset * 28);
    const end = addDays(first, 28);
    title.textContent = t('volunteers.cal.title', { from: ymd(first), to: ymd(addDays(end, -1)) });
    try {
      const data = await api.get('/volunteers/shifts' + query({ from: first.getTime(), to: end.getTime(), post: postFilter.value }));
      if (!alive) return;
      draw(first, end, data.items || []);
    } catch (e) {
      if (alive) fill(grid, forbiddenOr(e));
    }
  }

  function draw(first, end, shifts) {
    const byDay = new Map();
    for (const s of shifts) {
      const k = ymd(new Date(s.start_ms));
      if (!byDay.has(k)) byDay.set(k, []);
      byDay.get(k).push(s);
    }
    const today = ymd(new Date());
    const cal = h('div', { class: 'calendar', id: 'volunteers-calendar-grid' });
    // Whole weeks, Monday first: the days before the period's first day are placeholders.
    const lead = (first.getDay() + 6) % 7;
    for (let i = lead; i > 0; i--) {
      const d = addDays(first, -i);
      cal.append(h('div', { class: 'day blank', 'aria-hidden': 'true' },
        h('div', { class: 'date' }, md(d), ' ', t('volunteers.wd.' + d.getDay()))));
    }
    for (let d = first; d < end; d = addDays(d, 1)) {
      const k = ymd(d);
      const list = (byDay.get(k) || []).sort((a, b) => a.start_ms - b.start_ms || a.id - b.id);
      cal.append(h('div', { class: 'day' + (k === today ? ' today' : '') + (list.length ? '' : ' no-shifts'), id: 'volunteers-day-' + k, dataset: { date: k } },
        h('div', { class: 'date' }, md(d), ' ', t('volunteers.wd.' + d.getDay())),
        list.map(chip)));
    }
    fill(grid, cal);
    if (shifts.length === 0) grid.append(h('p', { class: 'empty' }, t('volunteers.cal.no_shifts')));
  }

  function chip(s) {
    const state = shiftState(s);
    const full = s.signed_up >= s.capacity;
    const cls = ['shift', state, state === 'upcoming' || state === 'running' ? (full ? 'full' : 'short') : '', s.id === selected ? 'selected' : '']
      .filter(Boolean).join(' ');
    const el2 = h('div', {
      class: cls, id: 'volunteers-shift-' + s.id, role: 'button', tabindex: '0',
      title: `${s.post_name} · ${s.place} · ${hm(s.start_ms)}–${hm(s.end_ms)}`,
      dataset: { shiftId: String(s.id), post: s.post, signedUp: String(s.signed_up), capacity: String(s.capacity), state },
      onclick: () => open(s.id),
      onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(s.id); } },
    },
    h('b', {}, s.post_name), ' ',
    h('span', { class: 'time' }, `${hm(s.start_ms)}–${hm(s.end_ms)}`), ' ',
    h('span', { class: 'count' }, `${s.signed_up}/${s.capacity}`),
    state === 'cancelled' ? [' ', h('span', { class: 'badge bad' }, t('volunteers.shift.cancelled'))] : '',
    s.offered > 0 && state !== 'cancelled' ? [' ', h('span', { class: 'badge warn', title: t('volunteers.shift.offered', { n: s.offered }) }, t('volunteers.shift.swap_badge'))] : '');
    return el2;
  }

  async function open(id) {
    selected = id;
    for (const c of grid.querySelectorAll('.shift')) c.classList.toggle('selected', c.dataset.shiftId === String(id));
    try { history.replaceState(null, '', '#/volunteers/calendar/' + id); } catch { /* not important */ }
    fill(detail, card('#' + id, h('p', { class: 'muted' }, t('common.loading'))));
    try {
      const s = await api.get('/volunteers/shifts/' + id);
      if (!alive || selected !== id) return;
      showShift(s);
    } catch (e) {
      if (!alive) return;
      fill(detail, card('#' + id, forbiddenOr(e), closeButton()));
    }
  }

  function closeButton() {
    return button(t('common.close'), () => {
      selected = 0; clear(detail);
      for (const c of grid.querySelectorAll('.shift.selected')) c.classList.remove('selected');
      try { history.replaceState(null, '', '#/volunteers/calendar'); } catch { /* not important */ }
    }, { id: 'volunteers-shift-close', kind: 'small' });
  }

  function showShift(s) {
    const state = shiftState(s);
    const stateBadge = h('span', { class: 'badge ' + ({ cancelled: 'bad', completed: '', running: 'warn', upcoming: 'info' }[state]), id: 'volunteers-shift-state' },
      t('volunteers.shift.' + state));
    const facts = [
      [t('volunteers.shift.place'), s.place],
      [t('volunteers.shift.time'), span(s.start_ms, s.end_ms)],
      [t('volunteers.shift.places'), [t('volunteers.shift.places_n', { signed: s.signed_up, capacity: s.capacity }),
        s.offered > 0 ? t('volunteers.shift.offered', { n: s.offered }) : '']],
      [t('volunteers.shift.cutoff'), time(s.signup_cutoff_ms)],
      [t('volunteers.shift.status'), stateBadge],
      [t('volunteers.shift.source'), s.template_id ? t('volunteers.shift.template', { id: s.template_id }) : t('volunteers.shift.manual')],
    ];
    const beforeStart = Date.now() < s.start_ms && !s.cancelled_at_ms;
    const cols = [
      { label: t('volunteers.signup.name'), render: (u) => u.name || '#' + u.person_id },
      { label: t('volunteers.signup.status'), render: (u) => h('span', {
        class: 'badge ' + ({ signed: 'info', completed: 'ok', no_show: 'bad', cancelled: '', swapped: 'warn' }[u.status] || ''),
      }, t('volunteers.signup.status.' + u.status)) },
      { label: t('volunteers.signup.signed_at'), render: (u) => time(u.signed_at_ms) },
      { label: t('volunteers.signup.checked_in'), render: (u) => time(u.checked_in_at_ms) },
      { label: t('volunteers.signup.offered'), render: (u) => [
        u.offered_at_ms ? t('volunteers.signup.offered_at', { at: time(u.offered_at_ms) }) : '',
        u.swapped_to ? t('volunteers.signup.swapped_to', { id: u.swapped_to }) : ''] },
    ];
    if (canWrite && beforeStart) {
      cols.push({ label: t('volunteers.signup.actions'), render: (u) => (u.status === 'signed'
        ? button(t('volunteers.signup.remove'), async () => {
          const name = u.name || '#' + u.person_id;
          if (!confirm(t('volunteers.signup.remove_confirm', { name }))) return;
          await api.del(`/volunteers/shifts/${s.id}/signups/${u.person_id}`);
          toast(t('volunteers.signup.removed', { name }));
          reopen(s.id);
        }, { id: `volunteers-signup-remove-${u.person_id}`, kind: 'small danger' }) : '') });
    }
    const parts = [
      h('div', { class: 'plan' }, facts.map(([k, v]) => h('div', {}, h('small', { class: 'muted' }, k), h('div', {}, v)))),
      h('h3', {}, t('volunteers.shift.signups')),
      table(cols, s.signups || [], { id: 'volunteers-signups', empty: t('volunteers.shift.no_signups'),
        rowAttrs: (u) => ({ dataset: { personId: String(u.person_id), status: u.status } }) }),
    ];
    if (canWrite && beforeStart && s.signed_up < s.capacity) parts.push(addSignup(s));
    const actions = h('div', { class: 'row' });
    if (canWrite && !s.cancelled_at_ms && s.end_ms > Date.now()) {
      actions.append(button(t('volunteers.shift.cancel'), async () => {
        if (!confirm(t('volunteers.shift.cancel_confirm', { id: s.id }))) return;
        await api.post(`/volunteers/shifts/${s.id}/cancel`);
        toast(t('volunteers.shift.cancelled_now', { id: s.id }));
        reopen(s.id);
      }, { id: 'volunteers-shift-cancel', kind: 'danger' }));
    }
    actions.append(closeButton());
    parts.push(actions);
    const headBadge = stateBadge.cloneNode(true);
    headBadge.removeAttribute('id');
    fill(detail, h('section', { class: 'card', id: 'volunteers-shift', dataset: { shiftId: String(s.id), state } },
      h('h2', {}, t('volunteers.shift.title', { id: s.id, post: s.post_name }), ' ', headBadge), ...parts));
    detail.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  function addSignup(s) {
    const pick = h('select', { id: 'volunteers-signup-person' }, option('', t('volunteers.signup.loading')));
    const offer = (list) => {
      const taken = new Set((s.signups || []).filter((u) => u.status === 'signed').map((u) => u.person_id));
      fill(pick, option('', t('volunteers.signup.pick')),
        list.filter((p) => !taken.has(p.id)).map((p) => option(String(p.id), `${p.name}${p.org_unit_path ? '（' + p.org_unit_path + '）' : ''}`)));
    };
    if (volunteers) offer(volunteers);
    else {
      api.get('/persons?role=volunteer&per_page=500').then((d) => { volunteers = d.items || []; if (alive) offer(volunteers); })
        .catch((e) => { fill(pick, option('', errorText(e))); });
    }
    return h('div', { class: 'row' },
      field(t('volunteers.signup.person'), pick),
      h('div', { class: 'field' }, button(t('volunteers.signup.add'), async () => {
        const id = Number(pick.value);
        if (!id) { pick.focus(); return; }
        const name = pick.selectedOptions[0] ? pick.selectedOptions[0].textContent : '#' + id;
        await api.post(`/volunteers/shifts/${s.id}/signups`, { person_id: id });
        toast(t('volunteers.signup.added', { name }));
        reopen(s.id);
      }, { id: 'volunteers-signup-add', kind: 'primary' })));
  }

  function reopen(id) { load(); open(id); }

  function shiftForm() {
    const post = h('select', { id: 'volunteers-new-post' });
    const start = h('input', { type: 'datetime-local', id: 'volunteers-new-start' });
    const end = h('input', { type: 'datetime-local', id: 'volunteers-new-end' });
    const capacity = h('input', { type: 'number', id: 'volunteers-new-capacity', min: '1', max: '1000', value: '1' });
    const cutoff = h('input', { type: 'datetime-local', id: 'volunteers-new-cutoff' });
    const message = h('div', { id: 'volunteers-new-error', role: 'alert' });
    const tomorrow = addDays(midnight(new Date()), 1);
    start.value = localInput(tomorrow.getTime() + 8 * 3600 * 1000);
    end.value = localInput(tomorrow.getTime() + 10 * 3600 * 1000);
    start.min = localInput(Date.now());
    // Moving the start keeps the length.
    let last = new Date(start.value).getTime();
    start.addEventListener('change', () => {
      const now = new Date(start.value).getTime();
      const e = new Date(end.value).getTime();
      if (Number.isFinite(now) && Number.isFinite(last) && Number.isFinite(e)) end.value = localInput(e + (now - last));
      last = now;
    });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'volunteers-new-create' }, t('volunteers.new.submit'));
    const form = h('form', { class: 'card', id: 'volunteers-new-shift' },
      h('h2', {}, t('volunteers.new.title')),
      h('div', { class: 'grid' },
        field(t('volunteers.new.post'), post),
        field(t('volunteers.new.capacity'), capacity),
        field(t('volunteers.new.start'), start),
        field(t('volunteers.new.end'), end),
        field(t('volunteers.new.cutoff'), cutoff)),
      message, h('div', { class: 'row' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const fail = (m) => { message.className = 'error'; message.textContent = m; };
      message.className = ''; message.textContent = '';
      const a = new Date(start.value).getTime();
      const b = new Date(end.value).getTime();
      const cap = Number(capacity.value);
      if (!Number.isFinite(a) || !Number.isFinite(b) || b <= a || b - a > DAY) return fail(t('volunteers.new.err_times'));
      if (!Number.isInteger(cap) || cap < 1 || cap > 1000) return fail(t('volunteers.new.err_capacity'));
      const body = { post: post.value, start: a, end: b, capacity: cap };
      if (cutoff.value) {
        const c = new Date(cutoff.value).getTime();
        if (Number.isFinite(c)) body.signup_cutoff = c;
      }
      submit.disabled = true;
      try {
        const s = await api.post('/volunteers/shifts', body);
        toast(t('volunteers.new.created', { id: s.id }));
        if (!alive) return;
        // Show the period holding the new shift, and the shift.
        const days = Math.floor((midnight(new Date(s.start_ms)) - midnight(new Date())) / DAY);
        offset = Math.floor(days / 28);
        await load();
        open(s.id);
      } catch (e) {
        fail(errorText(e));
      } finally {
        submit.disabled = false;
      }
    });
    return {
      card: form,
      setPosts(list) { fill(post, list.map((p) => option(p.code, `${p.name}（${p.code}）· ${p.place}`))); },
    };
  }

  load().then(() => { if (openId && alive) open(openId); });
  return () => { alive = false; };
}

// ───────────────────────────── rota ─────────────────────────────

function problemText(code) {
  const k = 'volunteers.problem.' + code;
  const s = t(k);
  return s === k ? code : s;
}

function rotaTab(el, ctx) {
  let alive = true;
  const from = h('input', { type: 'date', id: 'volunteers-rota-from' });
  const to = h('input', { type: 'date', id: 'volunteers-rota-to' });
  const today = midnight(new Date());
  from.value = ymd(today);
  to.value = ymd(addDays(today, 13));
  const message = h('div', { id: 'volunteers-rota-error', role: 'alert' });
  const draftBox = h('div', { id: 'volunteers-rota-draft' });
  const previewBtn = button(t('volunteers.rota.preview'), () => preview(), { id: 'volunteers-rota-preview', kind: 'primary' });
  el.append(card(t('volunteers.rota.title'),
    h('p', { class: 'hint' }, t('volunteers.rota.hint')),
    h('div', { class: 'row' },
      field(t('volunteers.rota.from'), from),
      field(t('volunteers.rota.to'), to),
      h('div', { class: 'field' }, previewBtn)),
    message), draftBox);

  async function preview() {
    message.className = ''; message.textContent = '';
    const a = dayMs(from.value);
    const last = dayMs(to.value);
    if (!Number.isFinite(a) || !Number.isFinite(last) || last < a) {
      message.className = 'error'; message.textContent = t('volunteers.rota.err_period');
      return;
    }
    const b = addDays(new Date(last), 1).getTime(); // the "to" day is included
    fill(draftBox, h('p', { class: 'muted' }, t('common.loading')));
    try {
      const [draft, shifts] = await Promise.all([
        api.post('/volunteers/rota/preview', { from: a, to: b }),
        api.get('/volunteers/shifts' + query({ from: a, to: b })).then((d) => d.items || []).catch(() => []),
      ]);
      if (!alive) return;
      showDraft(draft, new Map(shifts.map((s) => [s.id, s])));
    } catch (e) {
      if (!alive) return;
      clear(draftBox);
      message.className = 'error';
      message.textContent = errorText(e);
    }
  }

  function showDraft(d, shifts) {
    const postOf = (a) => (shifts.get(a.shift_id) || {}).post_name || a.post || '';
    const assignments = [...(d.assignments || [])].sort((x, y) => (x.start_ms || 0) - (y.start_ms || 0) || x.shift_id - y.shift_id);
    const unfilled = Object.entries(d.unfilled || {}).map(([id, n]) => ({ shift_id: Number(id), places: n, shift: shifts.get(Number(id)) }))
      .sort((x, y) => ((x.shift || {}).start_ms || 0) - ((y.shift || {}).start_ms || 0));
    const missing = unfilled.reduce((n, u) => n + u.places, 0);
    const f = d.fairness || {};
    const figure = (label, value, id) => h('div', {}, h('small', { class: 'muted' }, label), h('b', { id }, String(value)));
    const names = new Map(assignments.map((a) => [a.person_id, a.name]));
    const result = h('div', { id: 'volunteers-rota-result' });

    const publish = ctx.can('cadre') ? button(t('volunteers.rota.publish'), async () => {
      if (!confirm(t('volunteers.rota.publish_confirm', { id: d.draft_id, n: assignments.length }))) return;
      const r = await api.post(`/volunteers/rota/drafts/${d.draft_id}/publish`);
      const skipped = r.skipped || [];
      const published = (r.assignments || []).length;
      toast(t('volunteers.rota.published', { published, skipped: skipped.length }));
      if (!alive) return;
      publish.disabled = true;
      publish.dataset.done = '1';
      fill(result, 
        h('div', { class: 'notice-box', dataset: { published: String(published), skipped: String(skipped.length) } },
          t('volunteers.rota.published', { published, skipped: skipped.length })),
        skipped.length ? [h('h3', {}, t('volunteers.rota.skipped')), table([
          { label: t('volunteers.rota.shift'), render: (x) => '#' + x.shift_id },
          { label: t('volunteers.rota.post'), render: (x) => postOf(x) },
          { label: t('volunteers.rota.time'), render: (x) => { const s = shifts.get(x.shift_id); return s ? span(s.start_ms, s.end_ms) : ''; } },
          { label: t('volunteers.rota.person'), render: (x) => names.get(x.person_id) || '#' + x.person_id },
          { label: t('volunteers.rota.problem'), render: (x) => problemText(x.problem) },
        ], skipped, { id: 'volunteers-rota-skipped' })] : null);
    }, { id: 'volunteers-rota-publish', kind: 'primary' }) : null;
    // The publish button sits on the draft only while it is unpublished.
    if (publish && d.published) { publish.disabled = true; result.append(h('div', { class: 'notice-box' }, t('volunteers.rota.published_already'))); }

    fill(draftBox, h('section', { class: 'card', id: 'volunteers-rota-draft-card', dataset: { draftId: String(d.draft_id) } },
      h('h2', {}, t('volunteers.rota.draft', { id: d.draft_id })),
      h('p', { class: 'muted' }, t('volunteers.rota.period'), t('volunteers.colon'), time(d.from_ms), ' – ', time(d.to_ms)),
      h('div', { class: 'plan', id: 'volunteers-rota-summary' },
        figure(t('volunteers.rota.assigned'), assignments.length, 'volunteers-rota-assigned'),
        figure(t('volunteers.rota.unfilled_places'), missing, 'volunteers-rota-missing'),
        figure(t('volunteers.rota.people'), f.people ?? '—', 'volunteers-rota-people'),
        figure(t('volunteers.rota.min'), hours(f.min_hours), 'volunteers-rota-min'),
        figure(t('volunteers.rota.max'), hours(f.max_hours), 'volunteers-rota-max'),
        figure(t('volunteers.rota.mean'), hours(f.mean_hours), 'volunteers-rota-mean')),
      (d.problems || []).length ? [h('h3', {}, t('volunteers.rota.problems')), table([
        { label: t('volunteers.rota.shift'), render: (x) => '#' + x.shift_id },
        { label: t('volunteers.rota.person'), render: (x) => names.get(x.person_id) || '#' + x.person_id },
        { label: t('volunteers.rota.problem'), render: (x) => problemText(x.problem) },
      ], d.problems, { id: 'volunteers-rota-problems' })] : null,
      h('h3', {}, t('volunteers.rota.assignments')),
      table([
        { label: t('volunteers.rota.shift'), render: (a) => '#' + a.shift_id },
        { label: t('volunteers.rota.post'), render: postOf },
        { label: t('volunteers.rota.time'), render: (a) => (a.start_ms ? span(a.start_ms, a.end_ms) : '') },
        { label: t('volunteers.rota.person'), render: (a) => a.name || '#' + a.person_id },
      ], assignments, { id: 'volunteers-rota-assignments', empty: t('volunteers.rota.none_assigned'),
        rowAttrs: (a) => ({ dataset: { shiftId: String(a.shift_id), personId: String(a.person_id) } }) }),
      unfilled.length ? [h('h3', {}, t('volunteers.rota.unfilled')), table([
        { label: t('volunteers.rota.shift'), render: (u) => '#' + u.shift_id },
        { label: t('volunteers.rota.post'), render: (u) => (u.shift ? u.shift.post_name : '') },
        { label: t('volunteers.rota.time'), render: (u) => (u.shift ? span(u.shift.start_ms, u.shift.end_ms) : '') },
        { label: t('volunteers.rota.short'), render: (u) => h('span', { class: 'badge warn' }, t('volunteers.rota.missing', { n: u.places })) },
      ], unfilled, { id: 'volunteers-rota-unfilled', rowAttrs: (u) => ({ dataset: { shiftId: String(u.shift_id), places: String(u.places) } }) })] : null,
      publish ? h('div', { class: 'row' }, publish) : null,
      result));
  }

  return () => { alive = false; };
}

// ───────────────────────────── fairness ─────────────────────────────

function fairnessTab(el) {
  let alive = true;
  const from = h('input', { type: 'date', id: 'volunteers-fair-from' });
  const to = h('input', { type: 'date', id: 'volunteers-fair-to' });
  const today = midnight(new Date());
  from.value = ymd(today);
  to.value = ymd(addDays(today, 27));
  const box = h('div', { id: 'volunteers-fairness' });
  el.append(card(t('volunteers.fair.title'),
    h('div', { class: 'row' },
      field(t('volunteers.rota.from'), from),
      field(t('volunteers.rota.to'), to),
      h('div', { class: 'field' }, button(t('volunteers.fair.load'), () => load(), { id: 'volunteers-fair-load', kind: 'primary' }))),
    box));

  async function load() {
    const a = dayMs(from.value);
    const last = dayMs(to.value);
    if (!Number.isFinite(a) || !Number.isFinite(last) || last < a) {
      fill(box, h('div', { class: 'error', role: 'alert' }, t('volunteers.rota.err_period')));
      return;
    }
    const b = addDays(new Date(last), 1).getTime();
    try {
      const r = await api.get('/volunteers/fairness' + query({ from: a, to: b }));
      if (alive) draw(r);
    } catch (e) {
      if (alive) fill(box, forbiddenOr(e));
    }
  }

  function draw(r) {
    const over = new Set((r.overloaded || []).map((p) => p.person_id));
    const persons = [...(r.persons || [])].sort((x, y) => y.hours - x.hours || String(x.name).localeCompare(String(y.name), 'zh'));
    const max = Math.max(0, ...persons.map((p) => p.hours));
    const figure = (label, value, key) => h('div', { dataset: { k: key } }, h('small', { class: 'muted' }, label),
      h('b', { id: 'volunteers-fair-' + key }, String(value)));
    const barsBox = h('div', { class: 'bars', id: 'volunteers-fair-bars' });
    for (const p of persons) {
      const level = h('span');
      level.style.width = (max > 0 ? (100 * p.hours) / max : 0).toFixed(2) + '%';
      barsBox.append(h('div', { class: 'bar-row' + (over.has(p.person_id) ? ' over' : ''), dataset: { personId: String(p.person_id), hours: String(p.hours) } },
        h('span', { class: 'bar-label' }, p.name || '#' + p.person_id, t('volunteers.fair.shifts_n', { n: p.shifts }),
          over.has(p.person_id) ? ' ⚠' : ''),
        h('div', { class: 'bar', title: t('volunteers.fair.hours', { h: hours(p.hours), n: p.shifts }) }, level),
        h('span', { class: 'bar-value' }, t('volunteers.fair.hours_short', { h: hours(p.hours) }))));
    }
    fill(box, 
      h('div', { class: 'plan', id: 'volunteers-fair-summary' },
        figure(t('volunteers.fair.people'), r.people, 'people'),
        figure(t('volunteers.fair.min'), hours(r.min_hours), 'min'),
        figure(t('volunteers.fair.max'), hours(r.max_hours), 'max'),
        figure(t('volunteers.fair.mean'), hours(r.mean_hours), 'mean'),
        figure(t('volunteers.fair.spread'), hours(r.spread_hours), 'spread'),
        figure(t('volunteers.fair.longest'), hours(r.longest_shift_hours), 'longest')),
      h('p', {}, h('span', { class: 'badge ' + (r.within_one_shift ? 'ok' : 'warn'), id: 'volunteers-fair-verdict',
        dataset: { fair: r.within_one_shift ? '1' : '0' } }, t(r.within_one_shift ? 'volunteers.fair.ok' : 'volunteers.fair.bad'))),
      h('h3', {}, t('volunteers.fair.overloaded')),
      (r.overloaded || []).length === 0
        ? h('p', { class: 'empty', id: 'volunteers-fair-overloaded' }, t('volunteers.fair.none_overloaded'))
        : h('ul', { id: 'volunteers-fair-overloaded' }, r.overloaded.map((p) => h('li', { dataset: { personId: String(p.person_id) } },
          p.name || '#' + p.person_id, t('volunteers.colon'), t('volunteers.fair.hours', { h: hours(p.hours), n: p.shifts })))),
      h('h3', {}, t('volunteers.fair.per_person')),
      persons.length ? barsBox : h('p', { class: 'empty' }, t('volunteers.fair.nobody')));
  }

  load();
  return () => { alive = false; };
}

// ───────────────────────────── the view ─────────────────────────────

export default {
  id: 'volunteers',
  nav: 'nav.volunteers',
  roles: ['cadre', 'supervisor'],
  render(root, ctx) {
    const all = { posts: postsTab, calendar: calendarTab, rota: rotaTab, fairness: fairnessTab };
    // The rota preview writes a draft: cadres (and admins) only.
    const ids = Object.keys(all).filter((id) => id !== 'rota' || ctx.can('cadre'));
    const params = ctx.params || [];
    const initial = ids.includes(params[0]) ? params[0] : ids[0];
    const body = h('div', { id: 'volunteers-tab' });
    let stopTab = null;
    const show = (id, item) => {
      if (typeof stopTab === 'function') stopTab();
      clear(body);
      body.dataset.tab = id;
      stopTab = all[id](body, ctx, item);
    };
    root.append(h('h1', {}, t('nav.volunteers')),
      tabs(ids.map((id) => ({ id, label: t('volunteers.tab.' + id) })), (id) => {
        try { history.replaceState(null, '', '#/volunteers/' + id); } catch { /* not important */ }
        show(id);
      }, initial),
      body);
    const item = params[0] === 'calendar' && /^\d+$/.test(params[1] || '') ? Number(params[1]) : undefined;
    show(initial, item);
    return () => { if (typeof stopTab === 'function') stopTab(); stopTab = null; };
  },
};
