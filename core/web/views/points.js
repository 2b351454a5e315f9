// 积分: balances and the 红榜, proposals waiting for the evaluation group (评议小组), the
// hash-chained ledger (账本) with its verification, and the points store (积分超市).
// API: docs/API.md "Points" (/api/v1/points/...).
import { api, download, query } from '../api.js';
import { t, registerStrings, currentLang } from '../i18n.js';
import { h, clear, table, time, errorText, errorBox, toast, card, field, button, tabs, fill } from '../ui.js';

registerStrings({
  zh: {
    'points.tab.balances': '余额与排行', 'points.tab.pending': '待审核', 'points.tab.ledger': '账本',
    'points.tab.store': '积分超市',
    'points.board.month': '本月排行', 'points.board.all': '累计排行', 'points.rank': '名次',
    'points.household': '户', 'points.household_code': '户号', 'points.head': '户主', 'points.points': '积分',
    'points.household_id': '户 #{id}',
    'points.lookup.title': '查询一户的积分', 'points.lookup.household': '户号',
    'points.lookup.placeholder': '如 H001', 'points.lookup.submit': '查询',
    'points.lookup.balance': '余额', 'points.lookup.rank': '排名', 'points.lookup.this_month': '本月',
    'points.lookup.rank_n': '第 {n} 名', 'points.lookup.unit': '{n} 分', 'points.no_household': '没有户号为 {code} 的户。',
    'points.pending.title': '待审核的加分/扣分申请', 'points.pending.none': '没有待审核的申请。',
    'points.pts': '分值', 'points.reason': '原因', 'points.rule': '细则', 'points.proposer': '提出人',
    'points.time': '时间', 'points.actions': '审核', 'points.note': '备注（可选）',
    'points.approve': '通过', 'points.reject': '驳回', 'points.approved': '已通过', 'points.rejected': '已驳回',
    'points.own': '本人提出，不能审核',
    'points.only_evaluators': '只有评议员可以审核；审核人不能审核自己提出的申请。',
    'points.no_person': '您的令牌没有关联到人员，不能审核（需用 villagebot token create --person 生成的令牌）。',
    'points.no_person_refused': '审核需要关联到人员的令牌（token create --person），以免有人审核自己的申请。',
    'points.propose.title': '提出加分/扣分', 'points.propose.household': '户号',
    'points.propose.points': '分值（加分为正，扣分为负）', 'points.propose.reason': '原因',
    'points.propose.rule': '积分细则', 'points.propose.no_rule': '（不套用细则）',
    'points.propose.submit': '提交申请', 'points.propose.done': '已提交第 {id} 号申请，等待评议员审核。',
    'points.propose.missing': '请填写户号、分值（不能为 0）和原因。',
    'points.rule_option': '{code} {description}（{points} 分）', 'points.rule_cap': '每户每月最多 {n} 次',
    'points.source.chat': '聊天',
    'points.chain.ok': '哈希链完整 {n} 条', 'points.chain.bad': '哈希链被篡改：第 {id} 条',
    'points.chain.failed': '台账校验失败', 'points.chain.checking': '正在校验…',
    'points.chain.head': '链头哈希', 'points.chain.seconds': '用时 {s} 秒', 'points.chain.recheck': '重新校验',
    'points.ledger.title': '积分账本', 'points.ledger.filter': '只看此户', 'points.ledger.filter_placeholder': '户号，留空为全部',
    'points.ledger.apply': '筛选', 'points.ledger.id': '序号', 'points.ledger.source': '来源',
    'points.ledger.approver': '审核人', 'points.ledger.reverses': '冲正', 'points.ledger.reverses_n': '冲正第 {id} 条',
    'points.ledger.hash': '哈希', 'points.ledger.page': '第 {n} 页', 'points.ledger.empty': '账本中没有记录。',
    'points.export.title': '导出', 'points.export.ledger': '导出账本 CSV',
    'points.export.eligibility': '导出以奖代补名单 CSV', 'points.export.threshold': '以奖代补积分门槛',
    'points.export.threshold_hint': '积分达到此分数的户；留空则用配置中的门槛（默认 100）。',
    'points.store.items': '积分超市商品', 'points.store.code': '编号', 'points.store.name': '商品',
    'points.store.price': '所需积分', 'points.store.stock': '库存',
    'points.store.redemptions': '兑换记录', 'points.store.status': '状态', 'points.store.all': '全部',
    'points.store.voucher': '兑换码', 'points.store.item': '商品', 'points.store.quantity': '数量',
    'points.store.cost': '扣除积分', 'points.store.actions': '操作',
    'points.store.fulfil': '发放', 'points.store.cancel': '取消', 'points.store.fulfilled_toast': '已发放 {v}',
    'points.store.cancelled_toast': '已取消 {v}，积分和库存已退回',
    'points.status.reserved': '待领取', 'points.status.fulfilled': '已发放', 'points.status.cancelled': '已取消',
  },
  en: {
    'points.tab.balances': 'Balances & ranking', 'points.tab.pending': 'Pending', 'points.tab.ledger': 'Ledger',
    'points.tab.store': 'Points store',
    'points.board.month': 'This month', 'points.board.all': 'All time', 'points.rank': 'Rank',
    'points.household': 'Household', 'points.household_code': 'Household no.', 'points.head': 'Head', 'points.points': 'Points',
    'points.household_id': 'Household #{id}',
    'points.lookup.title': 'Look up a household', 'points.lookup.household': 'Household no.',
    'points.lookup.placeholder': 'e.g. H001', 'points.lookup.submit': 'Look up',
    'points.lookup.balance': 'Balance', 'points.lookup.rank': 'Rank', 'points.lookup.this_month': 'This month',
    'points.lookup.rank_n': 'No. {n}', 'points.lookup.unit': '{n} points', 'points.no_household': 'There is no household {code}.',
    'points.pending.title': 'Awards and deductions waiting for a decision', 'points.pending.none': 'Nothing is waiting.',
    'points.pts': 'Points', 'points.reason': 'Reason', 'points.rule': 'Rule', 'points.proposer': 'Proposed by',
    'points.time': 'Time', 'points.actions': 'Decision', 'points.note': 'Note (optional)',
    'points.approve': 'Approve', 'points.reject': 'Reject', 'points.approved': 'Approved', 'points.rejected': 'Rejected',
    'points.own': 'Your own proposal: you cannot decide it',
    'points.only_evaluators': 'Only evaluators decide, and never on their own proposals.',
    'points.no_person': 'Your token does not act for a person, so it cannot decide (use a token made with villagebot token create --person).',
    'points.no_person_refused': 'Decisions need a token that acts for a person (token create --person), so that nobody decides their own proposal.',
    'points.propose.title': 'Propose an award or deduction', 'points.propose.household': 'Household no.',
    'points.propose.points': 'Points (positive awards, negative deducts)', 'points.propose.reason': 'Reason',
    'points.propose.rule': 'Rule', 'points.propose.no_rule': '(no rule)',
    'points.propose.submit': 'Submit', 'points.propose.done': 'Proposal #{id} submitted; an evaluator will decide.',
    'points.propose.missing': 'Fill in the household, the points (not 0) and a reason.',
    'points.rule_option': '{code} {description} ({points} points)', 'points.rule_cap': 'at most {n} a month per household',
    'points.source.chat': 'chat',
    'points.chain.ok': 'Hash chain intact: {n} entries', 'points.chain.bad': 'Hash chain tampered with at entry {id}',
    'points.chain.failed': 'Ledger check failed', 'points.chain.checking': 'Checking…',
    'points.chain.head': 'Head hash', 'points.chain.seconds': '{s} s', 'points.chain.recheck': 'Check again',
    'points.ledger.title': 'Points ledger', 'points.ledger.filter': 'Only this household',
    'points.ledger.filter_placeholder': 'Household no.; empty for all',
    'points.ledger.apply': 'Filter', 'points.ledger.id': 'No.', 'points.ledger.source': 'Source',
    'points.ledger.approver': 'Approved by', 'points.ledger.reverses': 'Reverses', 'points.ledger.reverses_n': 'Reverses #{id}',
    'points.ledger.hash': 'Hash', 'points.ledger.page': 'Page {n}', 'points.ledger.empty': 'The ledger is empty.',
    'points.export.title': 'Export', 'points.export.ledger': 'Export ledger CSV',
    'points.export.eligibility': 'Export 以奖代补 list CSV', 'points.export.threshold': '以奖代补 threshold (points)',
    'points.export.threshold_hint': 'Households at or above this; empty uses the configured threshold (default 100).',
    'points.store.items': 'Store items', 'points.store.code': 'Code', 'points.store.name': 'Item',
    'points.store.price': 'Price (points)', 'points.store.stock': 'Stock',
    'points.store.redemptions': 'Redemptions', 'points.store.status': 'Status', 'points.store.all': 'All',
    'points.store.voucher': 'Voucher', 'points.store.item': 'Item', 'points.store.quantity': 'Quantity',
    'points.store.cost': 'Points', 'points.store.actions': 'Actions',
    'points.store.fulfil': 'Hand over', 'points.store.cancel': 'Cancel', 'points.store.fulfilled_toast': '{v} handed over',
    'points.store.cancelled_toast': '{v} cancelled; points and stock returned',
    'points.status.reserved': 'Reserved', 'points.status.fulfilled': 'Handed over', 'points.status.cancelled': 'Cancelled',
  },
});

const TABS = ['balances', 'pending', 'ledger', 'store'];

// +5 / -3 as a coloured badge.
function signed(n) {
  const v = Number(n) || 0;
  return h('span', { class: 'badge ' + (v > 0 ? 'ok' : v < 0 ? 'bad' : '') }, v > 0 ? '+' + v : String(v));
}

function shortHash(hash) {
  if (!hash) return '';
  return h('code', { title: hash, dataset: { hash } }, hash.length > 12 ? hash.slice(0, 12) + '…' : hash);
}

// "中文 / English" → the half in the current language. The ledger's problems are sometimes
// written "…（…）/ entry 3: …" (no blank before the slash), which bilingual() does not split.
function oneLanguage(message) {
  const m = /\s*\/\s+(?=[A-Za-z])/.exec(message || '');
  if (!m) return message || '';
  return currentLang() === 'en' ? message.slice(m.index + m[0].length) : message.slice(0, m.index);
}

function forbiddenOr(e) {
  return e && e.status === 403 ? h('p', { class: 'empty' }, t('common.forbidden')) : errorBox(e);
}

function loading() { return h('p', { class: 'muted' }, t('common.loading')); }

export default {
  id: 'points',
  nav: 'nav.points',
  roles: ['admin', 'cadre', 'supervisor', 'evaluator', 'commander', 'group_leader'],
  render(root, ctx) {
    let alive = true;
    const maySeeRegister = ctx.can('cadre', 'supervisor');
    const mayDecide = ctx.can('evaluator');
    const mayPropose = ctx.can('cadre', 'evaluator');
    const mayHandOut = ctx.can('cadre');

    // Proposals, ledger entries and redemptions name the household by id only: the register
    // (for roles that may read it) and the leaderboards give the 户号 and 户主.
    const households = new Map();
    const learn = (id, code, head) => { if (id && code && !households.has(id)) households.set(id, { code, head }); };
    const hhText = (id) => {
      const x = households.get(id);
      return x ? (x.head ? `${x.code} ${x.head}` : x.code) : t('points.household_id', { id });
    };
    // The API names the household in proposals, ledger entries and redemptions; the lookup
    // above is the fallback for an older server.
    const hhRow = (x) => (x.household ? (x.household_head ? `${x.household} ${x.household_head}` : x.household) : hhText(x.household_id));
    let registerLoaded = null;
    function loadRegister() {
      if (registerLoaded) return registerLoaded;
      registerLoaded = (async () => {
        // The all-time leaderboard names every household that has points (up to 100 of them),
        // which is what an evaluator (no access to the register) can learn.
        try {
          const r = await api.get('/points/leaderboard' + query({ period: 'all', limit: 100 }));
          for (const x of r.items || []) learn(x.household_id, x.household, x.head);
        } catch { /* ids stand in */ }
        if (!maySeeRegister) return;
        try {
          for (let page = 1; page <= 50; page++) {
            const r = await api.get('/households' + query({ page, per_page: 500 }));
            for (const x of r.items || []) learn(x.id, x.code, x.head_name);
            if (!r.items || r.items.length < 500 || page * 500 >= r.total) break;
          }
        } catch { /* the register is not needed to show points: ids stand in */ }
      })();
      return registerLoaded;
    }

    let rules = null;
    async function loadRules() {
      if (rules) return rules;
      try { rules = (await api.get('/points/rules')).items || []; } catch { rules = []; }
      return rules;
    }
    const ruleText = (code) => {
      if (!code) return '';
      const r = (rules || []).find((x) => x.code === code);
      return r ? `${code} ${r.description}` : code;
    };

    const initial = TABS.includes(ctx.params[0]) ? ctx.params[0] : 'balances';
    const body = h('div', { id: 'points-body' });
    root.append(h('h1', {}, t('nav.points')),
      tabs(TABS.map((id) => ({ id, label: t('points.tab.' + id) })), (id) => show(id), initial),
      body);

    function show(id) {
      try { history.replaceState(null, '', '#/points/' + id); } catch { /* the hash stays */ }
      clear(body);
      if (id === 'pending') renderPending(body);
      else if (id === 'ledger') renderLedger(body);
      else if (id === 'store') renderStore(body);
      else renderBalances(body);
    }

    // ---------------------------------------------------------------- 余额与排行
    function renderBalances(el) {
      const month = h('div', { id: 'points-board-month-box' }, loading());
      const all = h('div', { id: 'points-board-all-box' }, loading());
      const input = h('input', { type: 'text', id: 'points-balance-household', placeholder: t('points.lookup.placeholder'), autocomplete: 'off' });
      const result = h('div', { id: 'points-balance-result' });
      const lookup = async () => {
        const code = input.value.trim();
        if (!code) return;
        fill(result, loading());
        try {
          const b = await api.get('/points/balances/' + encodeURIComponent(code));
          fill(result, h('div', { class: 'plan' },
            h('div', {}, t('points.lookup.balance'), h('b', { id: 'points-balance-value' }, t('points.lookup.unit', { n: b.balance }))),
            h('div', {}, t('points.lookup.rank'), h('b', { id: 'points-balance-rank' }, t('points.lookup.rank_n', { n: b.rank }))),
            h('div', {}, t('points.lookup.this_month'), h('b', { id: 'points-balance-month' }, b.this_month > 0 ? '+' + b.this_month : String(b.this_month)))));
        } catch (e) {
          fill(result, e.status === 404
            ? h('div', { class: 'error', role: 'alert' }, t('points.no_household', { code }))
            : forbiddenOr(e));
        }
      };
      const form = h('form', { class: 'row', id: 'points-balance-form' },
        field(t('points.lookup.household'), input),
        h('div', { class: 'field' }, button(t('points.lookup.submit'), lookup, { kind: 'primary', id: 'points-balance-lookup', type: 'submit' })));
      form.addEventListener('submit', (ev) => ev.preventDefault());
      el.append(
        card(t('points.lookup.title'), form, result),
        h('div', { class: 'grid' },
          card(t('points.board.month'), month),
          card(t('points.board.all'), all)));
      for (const [period, box] of [['month', month], ['all', all]]) {
        api.get('/points/leaderboard' + query({ period, limit: 50 })).then((r) => {
          if (!alive) return;
          for (const x of r.items || []) learn(x.household_id, x.household, x.head);
          fill(box, table([
            { label: t('points.rank'), key: 'rank' },
            { label: t('points.household_code'), key: 'household' },
            { label: t('points.head'), key: 'head' },
            { label: t('points.points'), render: (x) => (period === 'month' ? signed(x.points) : String(x.points)) },
          ], r.items, { id: 'points-board-' + period, rowAttrs: (x) => ({ dataset: { household: x.household } }) }));
        }).catch((e) => { if (alive) fill(box, forbiddenOr(e)); });
      }
    }

    // ---------------------------------------------------------------- 待审核
    function renderPending(el) {
      const list = h('div', { id: 'points-pending-box' }, loading());
      const refresh = button(t('common.refresh'), () => loadPending(), { id: 'points-pending-refresh', kind: 'small' });
      const hints = [];
      if (!mayDecide) hints.push(h('p', { class: 'hint' }, t('points.only_evaluators')));
      else if (!ctx.session.person_id) hints.push(h('div', { class: 'notice-box', id: 'points-no-person' }, t('points.no_person')));
      el.append(card(t('points.pending.title'), h('div', { class: 'row' }, refresh), ...hints, list));
      if (mayPropose) el.append(proposeForm(() => loadPending()));

      async function loadPending() {
        try {
          const [r] = await Promise.all([api.get('/points/proposals'), loadRules(), loadRegister()]);
          if (!alive) return;
          fill(list, pendingTable(r.items || []));
        } catch (e) {
          if (alive) fill(list, forbiddenOr(e));
        }
      }

      function pendingTable(items) {
        const columns = [
          { label: t('points.household'), render: (p) => hhRow(p) },
          { label: t('points.pts'), render: (p) => signed(p.points) },
          { label: t('points.reason'), key: 'reason' },
          { label: t('points.rule'), render: (p) => ruleText(p.rule_code) },
          { label: t('points.proposer'), render: (p) => [p.proposer,
            p.source && p.source !== 'api' ? h('span', { class: 'hint' }, ' · ' + (p.source === 'chat' ? t('points.source.chat') : p.source)) : null] },
          { label: t('points.time'), render: (p) => time(p.created_at_ms) },
        ];
        if (mayDecide) columns.push({ label: t('points.actions'), render: decisionCell });
        return table(columns, items, {
          id: 'points-pending', empty: t('points.pending.none'),
          rowAttrs: (p) => ({ dataset: { proposal: p.id } }),
        });
      }

      function decisionCell(p) {
        const own = ctx.session.person_id != null && ctx.session.person_id > 0 && p.proposer_person_id === ctx.session.person_id;
        if (own) return h('span', { class: 'muted', id: 'points-own-' + p.id }, t('points.own'));
        const note = h('input', { type: 'text', id: 'points-note-' + p.id, placeholder: t('points.note'), maxlength: 200 });
        const problem = h('div', { id: 'points-error-' + p.id });
        const decide = (approve) => async () => {
          clear(problem);
          try {
            await api.post(`/points/proposals/${p.id}/decision`, { approve, note: note.value.trim() });
          } catch (e) {
            const why = e.code === 'no_person' ? t('points.no_person_refused') : errorText(e);
            problem.append(h('div', { class: 'error', role: 'alert' }, why));
            toast(why, 'bad');
            return;
          }
          toast(approve ? t('points.approved') : t('points.rejected'));
          const tr = list.querySelector(`tr[data-proposal="${p.id}"]`);
          const tbody = tr ? tr.parentElement : null;
          if (tr) tr.remove();
          if (tbody && !tbody.children.length) fill(list, h('p', { class: 'empty', id: 'points-pending' }, t('points.pending.none')));
        };
        return h('div', {},
          note,
          h('div', { class: 'row' },
            button(t('points.approve'), decide(true), { kind: 'primary small', id: 'points-approve-' + p.id }),
            button(t('points.reject'), decide(false), { kind: 'danger small', id: 'points-reject-' + p.id })),
          problem);
      }

      loadPending();
    }

    function proposeForm(after) {
      const household = h('input', { type: 'text', id: 'points-propose-household', placeholder: t('points.lookup.placeholder'), autocomplete: 'off' });
      const pts = h('input', { type: 'number', id: 'points-propose-points', step: 1 });
      const reason = h('input', { type: 'text', id: 'points-propose-reason', maxlength: 160 });
      const rule = h('select', { id: 'points-propose-rule' }, h('option', { value: '' }, t('points.propose.no_rule')));
      const ruleHint = h('small', { class: 'hint', id: 'points-propose-rule-hint' });
      loadRules().then((rs) => {
        for (const r of rs) {
          rule.append(h('option', { value: r.code },
            t('points.rule_option', { code: r.code, description: r.description, points: r.points > 0 ? '+' + r.points : r.points })));
        }
      });
      rule.addEventListener('change', () => {
        const r = (rules || []).find((x) => x.code === rule.value);
        ruleHint.textContent = r && r.monthly_cap > 0 ? t('points.rule_cap', { n: r.monthly_cap }) : '';
        if (r) {
          pts.value = String(r.points);
          if (!reason.value.trim()) reason.value = r.description;
        }
      });
      const submit = async () => {
        const n = Number(pts.value);
        if (!household.value.trim() || !reason.value.trim() || !Number.isInteger(n) || n === 0) {
          toast(t('points.propose.missing'), 'bad');
          return;
        }
        const body = { household: household.value.trim(), points: n, reason: reason.value.trim() };
        if (rule.value) body.rule_code = rule.value;
        const p = await api.post('/points/proposals', body);
        toast(t('points.propose.done', { id: p.id }));
        household.value = ''; pts.value = ''; reason.value = ''; rule.value = ''; ruleHint.textContent = '';
        after();
      };
      const form = h('form', { id: 'points-propose' },
        h('div', { class: 'grid' },
          field(t('points.propose.household'), household),
          h('div', {}, field(t('points.propose.rule'), rule), ruleHint)),
        h('div', { class: 'grid' },
          field(t('points.propose.points'), pts),
          field(t('points.propose.reason'), reason)),
        button(t('points.propose.submit'), submit, { kind: 'primary', id: 'points-propose-submit', type: 'submit' }));
      form.addEventListener('submit', (ev) => ev.preventDefault());
      return card(t('points.propose.title'), form);
    }

    // ---------------------------------------------------------------- 账本
    function renderLedger(el) {
      const status = h('div', { id: 'points-chain-box', class: 'field' });
      const box = h('div', { id: 'points-ledger-box' }, loading());
      const pager = h('div', { class: 'row', id: 'points-ledger-pager' });
      const filter = h('input', { type: 'text', id: 'points-ledger-household', placeholder: t('points.ledger.filter_placeholder'), autocomplete: 'off' });
      const threshold = h('input', { type: 'number', id: 'points-eligibility-threshold', min: 0, step: 1 });
      let household = '';
      let badId = 0; // the first entry that breaks the chain, marked in the table
      const markBad = () => {
        for (const tr of box.querySelectorAll('tr[data-entry]')) tr.classList.toggle('selected', Number(tr.dataset.entry) === badId);
      };
      let after = 0;
      const stack = []; // the `after` of the pages before this one

      async function verify() {
        fill(status, h('span', { class: 'badge', id: 'points-chain-status' }, t('points.chain.checking')));
        try {
          const v = await api.get('/points/verify');
          if (!alive) return;
          badId = v.ok ? 0 : v.first_bad_id || 0;
          markBad();
          const text = v.ok ? t('points.chain.ok', { n: v.entries })
            : v.first_bad_id ? t('points.chain.bad', { id: v.first_bad_id }) : t('points.chain.failed');
          fill(status, h('div', { class: 'row' },
            h('span', { class: 'badge ' + (v.ok ? 'ok' : 'bad'), id: 'points-chain-status', dataset: { ok: v.ok ? '1' : '0' }, role: v.ok ? null : 'alert' }, text),
            v.head_hash ? h('span', { class: 'hint' }, t('points.chain.head') + ' ', shortHash(v.head_hash)) : null,
            h('span', { class: 'hint' }, t('points.chain.seconds', { s: Number(v.seconds || 0).toFixed(3) })),
            button(t('points.chain.recheck'), verify, { kind: 'small', id: 'points-verify' })),
          !v.ok && v.problem ? h('div', { class: 'error', id: 'points-chain-problem' }, oneLanguage(v.problem)) : null);
        } catch (e) {
          if (alive) fill(status, forbiddenOr(e));
        }
      }

      async function load() {
        fill(box, loading());
        clear(pager);
        try {
          const [r] = await Promise.all([
            api.get('/points/ledger' + query({ limit: 50, after: after || '', household })), loadRules(), loadRegister()]);
          if (!alive) return;
          fill(box, table([
            { label: t('points.ledger.id'), key: 'id' },
            { label: t('points.household'), render: (x) => hhRow(x) },
            { label: t('points.pts'), render: (x) => signed(x.points) },
            { label: t('points.reason'), key: 'reason' },
            { label: t('points.rule'), render: (x) => ruleText(x.rule_code) },
            { label: t('points.ledger.source'), key: 'source' },
            { label: t('points.proposer'), key: 'proposer' },
            { label: t('points.ledger.approver'), key: 'approver' },
            { label: t('points.ledger.reverses'), render: (x) => (x.reverses ? t('points.ledger.reverses_n', { id: x.reverses }) : '') },
            { label: t('points.time'), render: (x) => time(x.created_at_ms) },
            { label: t('points.ledger.hash'), render: (x) => shortHash(x.hash) },
          ], r.items, { id: 'points-ledger', empty: t('points.ledger.empty'), rowAttrs: (x) => ({ dataset: { entry: x.id }, class: x.id === badId ? 'selected' : null }) }));
          const prev = h('button', { type: 'button', class: 'small', id: 'points-ledger-prev', disabled: stack.length === 0 }, t('common.prev'));
          prev.addEventListener('click', () => { after = stack.pop() || 0; load(); });
          const next = h('button', { type: 'button', class: 'small', id: 'points-ledger-next', disabled: r.next_after == null }, t('common.next'));
          next.addEventListener('click', () => { stack.push(after); after = r.next_after; load(); });
          pager.append(prev, h('span', { class: 'muted' }, t('points.ledger.page', { n: stack.length + 1 })), next);
        } catch (e) {
          if (!alive) return;
          fill(box, e.status === 404 && household
            ? h('div', { class: 'error', role: 'alert' }, t('points.no_household', { code: household }))
            : forbiddenOr(e));
        }
      }

      const filterForm = h('form', { class: 'row', id: 'points-ledger-filter' },
        field(t('points.ledger.filter'), filter),
        h('div', { class: 'field' }, button(t('points.ledger.apply'), async () => {
          household = filter.value.trim();
          after = 0;
          stack.length = 0;
          await load();
        }, { id: 'points-ledger-apply', type: 'submit' })));
      filterForm.addEventListener('submit', (ev) => ev.preventDefault());

      el.append(
        card(t('points.ledger.title'), status, filterForm, box, pager),
        card(t('points.export.title'),
          h('div', { class: 'row' },
            h('div', { class: 'field' }, button(t('points.export.ledger'),
              () => download('/points/export/ledger.csv', 'ledger.csv'), { id: 'points-export-ledger' }))),
          h('div', { class: 'row' },
            field(t('points.export.threshold'), threshold, t('points.export.threshold_hint')),
            h('div', { class: 'field' }, button(t('points.export.eligibility'),
              () => download('/points/export/eligibility.csv' + query({ threshold: threshold.value.trim() }), 'eligibility.csv'),
              { id: 'points-export-eligibility' })))));
      verify();
      load();
    }

    // ---------------------------------------------------------------- 积分超市
    function renderStore(el) {
      const items = h('div', { id: 'points-items-box' }, loading());
      const list = h('div', { id: 'points-redemptions-box' }, loading());
      const statusSelect = h('select', { id: 'points-redemption-status' },
        h('option', { value: '' }, t('points.store.all')),
        ['reserved', 'fulfilled', 'cancelled'].map((s) => h('option', { value: s }, t('points.status.' + s))));
      statusSelect.addEventListener('change', () => loadRedemptions());
      el.append(
        card(t('points.store.items'), items),
        card(t('points.store.redemptions'),
          h('div', { class: 'row' }, field(t('points.store.status'), statusSelect),
            h('div', { class: 'field' }, button(t('common.refresh'), () => loadRedemptions(), { id: 'points-redemptions-refresh' }))),
          list));

      async function loadItems() {
        try {
          const r = await api.get('/points/store/items');
          if (!alive) return;
          fill(items, table([
            { label: t('points.store.code'), key: 'code' },
            { label: t('points.store.name'), key: 'name' },
            { label: t('points.store.price'), key: 'price' },
            { label: t('points.store.stock'), render: (x) => (x.stock > 0 ? String(x.stock) : h('span', { class: 'badge bad' }, '0')) },
          ], r.items, { id: 'points-items', rowAttrs: (x) => ({ dataset: { item: x.code } }) }));
        } catch (e) {
          if (alive) fill(items, forbiddenOr(e));
        }
      }

      async function loadRedemptions() {
        try {
          const [r] = await Promise.all([
            api.get('/points/store/redemptions' + query({ status: statusSelect.value, limit: 200 })), loadRegister()]);
          if (!alive) return;
          const columns = [
            { label: t('points.store.voucher'), render: (x) => h('code', {}, x.voucher) },
            { label: t('points.household'), render: (x) => hhRow(x) },
            { label: t('points.store.item'), render: (x) => `${x.item_name || x.item_code}` },
            { label: t('points.store.quantity'), key: 'quantity' },
            { label: t('points.store.cost'), key: 'points' },
            { label: t('points.store.status'), render: (x) => h('span', {
              class: 'badge ' + (x.status === 'reserved' ? 'warn' : x.status === 'fulfilled' ? 'ok' : ''),
            }, t('points.status.' + x.status)) },
          ];
          if (mayHandOut) columns.push({ label: t('points.store.actions'), render: actions });
          fill(list, table(columns, r.items, { id: 'points-redemptions', rowAttrs: (x) => ({ dataset: { voucher: x.voucher } }) }));
        } catch (e) {
          if (alive) fill(list, forbiddenOr(e));
        }
      }

      function actions(x) {
        if (x.status !== 'reserved') return '';
        const act = (what) => async () => {
          await api.post(`/points/store/redemptions/${encodeURIComponent(x.voucher)}/${what}`);
          toast(t(what === 'fulfil' ? 'points.store.fulfilled_toast' : 'points.store.cancelled_toast', { v: x.voucher }));
          await Promise.all([loadRedemptions(), loadItems()]);
        };
        return h('div', { class: 'row' },
          button(t('points.store.fulfil'), act('fulfil'), { kind: 'primary small', id: 'points-fulfil-' + x.voucher }),
          button(t('points.store.cancel'), act('cancel'), { kind: 'danger small', id: 'points-cancel-' + x.voucher }));
      }

      loadItems();
      loadRedemptions();
    }

    show(initial);
    return () => { alive = false; };
  },
};
