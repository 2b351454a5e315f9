// 人员: the people register — search and browse, a person's details, the CSV import with its
// dry-run report shown before anything is written, and the CSV export.
// API: docs/API.md "Resources" (persons, roles, org-units, import/export).
import { api, download, query } from '../api.js';
import { t, registerStrings } from '../i18n.js';
import { h, clear, table, time, errorText, errorBox, toast, card, field, button, fill } from '../ui.js';

const ROLES = ['villager', 'central_household_head', 'party_member', 'group_leader', 'cadre', 'evaluator',
  'supervisor', 'commander', 'emergency_team', 'volunteer', 'admin'];

registerStrings({
  zh: {
    'people.title': '人员名册', 'people.search': '姓名或手机号', 'people.search_placeholder': '输入姓名或手机号码',
    'people.role': '角色', 'people.unit': '村民小组', 'people.any_role': '全部角色', 'people.any_unit': '全部小组',
    'people.village': '全村', 'people.name': '姓名', 'people.phone': '手机', 'people.household': '户号',
    'people.roles': '角色', 'people.state': '状态', 'people.opted_out': '已退订', 'people.none': '没有符合条件的人员。',
    'people.page': '第 {page} / {pages} 页，共 {total} 人',
    'people.detail': '人员详情', 'people.detail.household': '户', 'people.detail.unit': '村民小组',
    'people.detail.identities': '聊天账号', 'people.detail.lang': '语言', 'people.detail.opted_out': '退订通知',
    'people.detail.channel': '首选渠道', 'people.detail.created': '登记时间', 'people.detail.updated': '更新时间',
    'people.detail.no_identity': '无', 'people.detail.default': '默认', 'people.detail.id': '编号',
    'people.masked': '手机号已部分隐藏（监督委员会只看到打码后的号码）。',
    'people.export': '导出 CSV',
    'people.import.title': '导入人员名册（CSV）',
    'people.import.help': '选择 Excel 导出的 CSV 文件（UTF-8、带 BOM 或 GBK 均可）。先“检查”：只核对、不写入；确认报告无误后再“导入”。',
    'people.import.file': 'CSV 文件', 'people.import.skip': '跳过有问题的行（只导入没有问题的行）',
    'people.import.check': '检查（不写入）', 'people.import.apply': '确认导入',
    'people.import.no_file': '请先选择 CSV 文件。', 'people.import.reading': '正在检查…', 'people.import.applying': '正在导入…',
    'people.import.dry_title': '检查结果（尚未写入）', 'people.import.applied_title': '导入结果',
    'people.import.refused_title': '导入被拒绝，没有写入任何数据',
    'people.import.rows': '数据行', 'people.import.persons_created': '新增人员', 'people.import.persons_updated': '更新人员',
    'people.import.households_created': '新增户', 'people.import.households_updated': '更新户',
    'people.import.org_units_created': '新增小组', 'people.import.changes': '变更条数',
    'people.import.problems': '问题（{n} 个）', 'people.import.no_problems': '没有发现问题。',
    'people.import.line': '行号', 'people.import.column': '列', 'people.import.reason': '原因', 'people.import.whole_row': '整行',
    'people.import.file_level': '—',
    'people.import.change_lines': '变更明细（{n} 条）',
    'people.import.blocked': '有问题时不能导入（上面的数目为 0）：请修改文件后重新检查，或勾选“跳过有问题的行”——会重新检查并显示将导入的数目。',
    'people.import.ready': '可以导入。', 'people.import.ready_skip': '将跳过有问题的行，只导入其余的行。',
    'people.import.done': '导入完成：新增 {pc} 人、更新 {pu} 人，新增 {hc} 户、更新 {hu} 户。',
    'people.import.nothing': '名册没有变化，无需写入。',
    'people.import.refused': '导入被拒绝：文件有问题，没有写入任何数据。',
    'people.import.only_whole': '只有管理员和负责全村的村干部可以导入。',
    'people.role.villager': '村民', 'people.role.central_household_head': '中心户长', 'people.role.party_member': '党员',
    'people.role.group_leader': '组长', 'people.role.cadre': '村干部', 'people.role.evaluator': '评议员',
    'people.role.supervisor': '监督员', 'people.role.commander': '指挥长', 'people.role.emergency_team': '应急队员',
    'people.role.volunteer': '志愿者', 'people.role.admin': '管理员',
  },
  en: {
    'people.title': 'People register', 'people.search': 'Name or phone', 'people.search_placeholder': 'A name or phone digits',
    'people.role': 'Role', 'people.unit': 'Group', 'people.any_role': 'All roles', 'people.any_unit': 'All groups',
    'people.village': 'Whole village', 'people.name': 'Name', 'people.phone': 'Phone', 'people.household': 'Household',
    'people.roles': 'Roles', 'people.state': 'State', 'people.opted_out': 'Opted out', 'people.none': 'Nobody matches.',
    'people.page': 'Page {page} of {pages}, {total} people',
    'people.detail': 'Person', 'people.detail.household': 'Household', 'people.detail.unit': 'Group',
    'people.detail.identities': 'Chat accounts', 'people.detail.lang': 'Language', 'people.detail.opted_out': 'Opted out of notices',
    'people.detail.channel': 'Preferred channel', 'people.detail.created': 'Registered', 'people.detail.updated': 'Updated',
    'people.detail.no_identity': 'None', 'people.detail.default': 'Default', 'people.detail.id': 'Id',
    'people.masked': 'Phone numbers are partly hidden (the supervision committee sees them masked).',
    'people.export': 'Export CSV',
    'people.import.title': 'Import the people register (CSV)',
    'people.import.help': 'Choose the CSV file as Excel saved it (UTF-8, with BOM, or GBK). "Check" first: it validates and writes nothing; import once the report is right.',
    'people.import.file': 'CSV file', 'people.import.skip': 'Skip the rows with problems (import only the good rows)',
    'people.import.check': 'Check (writes nothing)', 'people.import.apply': 'Import',
    'people.import.no_file': 'Choose a CSV file first.', 'people.import.reading': 'Checking…', 'people.import.applying': 'Importing…',
    'people.import.dry_title': 'Check result (nothing written yet)', 'people.import.applied_title': 'Import result',
    'people.import.refused_title': 'Import refused; nothing was written',
    'people.import.rows': 'Data rows', 'people.import.persons_created': 'People added', 'people.import.persons_updated': 'People updated',
    'people.import.households_created': 'Households added', 'people.import.households_updated': 'Households updated',
    'people.import.org_units_created': 'Groups added', 'people.import.changes': 'Changes',
    'people.import.problems': 'Problems ({n})', 'people.import.no_problems': 'No problems found.',
    'people.import.line': 'Line', 'people.import.column': 'Column', 'people.import.reason': 'Reason', 'people.import.whole_row': 'whole row',
    'people.import.file_level': '—',
    'people.import.change_lines': 'Changes in detail ({n})',
    'people.import.blocked': 'The file has problems, so nothing can be imported (hence the zeros above): fix it and check again, or tick "Skip the rows with problems" to check again and see what would be imported.',
    'people.import.ready': 'Ready to import.', 'people.import.ready_skip': 'The rows with problems will be skipped; the rest imported.',
    'people.import.done': 'Imported: {pc} people added, {pu} updated; {hc} households added, {hu} updated.',
    'people.import.nothing': 'The register is unchanged; nothing to write.',
    'people.import.refused': 'Import refused: the file has problems; nothing was written.',
    'people.import.only_whole': 'Only administrators and cadres responsible for the whole village may import.',
    'people.role.villager': 'Villager', 'people.role.central_household_head': 'Central household head',
    'people.role.party_member': 'Party member', 'people.role.group_leader': 'Group leader', 'people.role.cadre': 'Cadre',
    'people.role.evaluator': 'Evaluator', 'people.role.supervisor': 'Supervisor', 'people.role.commander': 'Commander',
    'people.role.emergency_team': 'Emergency team', 'people.role.volunteer': 'Volunteer', 'people.role.admin': 'Administrator',
  },
});

const PER_PAGE = 50;

function roleName(role) {
  return ROLES.includes(role) ? t('people.role.' + role) : role;
}

function forbiddenOr(e) {
  return e && e.status === 403 && e.code === 'forbidden' ? h('p', { class: 'empty' }, t('common.forbidden')) : errorBox(e);
}

function loading() { return h('p', { class: 'muted' }, t('common.loading')); }

export default {
  id: 'people',
  nav: 'nav.people',
  roles: ['admin', 'cadre', 'supervisor'],
  render(root, ctx) {
    let alive = true;
    const mayWrite = ctx.can('cadre');
    const state = { q: '', role: '', org_unit_id: '', page: 1 };
    let selected = Number(ctx.params[0]) || 0;

    const q = h('input', { type: 'search', id: 'people-search', placeholder: t('people.search_placeholder'), autocomplete: 'off' });
    const roleSelect = h('select', { id: 'people-role' }, h('option', { value: '' }, t('people.any_role')));
    const unitSelect = h('select', { id: 'people-unit' }, h('option', { value: '' }, t('people.any_unit')));
    const list = h('div', { id: 'people-list-box' }, loading());
    const pager = h('div', { class: 'row', id: 'people-pager' });
    const detail = h('section', { class: 'card', id: 'people-detail', hidden: true });

    const searchForm = h('form', { class: 'row', id: 'people-filter' },
      field(t('people.search'), q),
      field(t('people.role'), roleSelect),
      field(t('people.unit'), unitSelect),
      h('div', { class: 'field' }, button(t('common.search'), async () => {
        state.q = q.value.trim();
        state.role = roleSelect.value;
        state.org_unit_id = unitSelect.value;
        state.page = 1;
        await loadList();
      }, { kind: 'primary', id: 'people-search-submit', type: 'submit' })));
    searchForm.addEventListener('submit', (ev) => ev.preventDefault());
    for (const s of [roleSelect, unitSelect]) {
      s.addEventListener('change', () => {
        state.role = roleSelect.value;
        state.org_unit_id = unitSelect.value;
        state.q = q.value.trim();
        state.page = 1;
        loadList();
      });
    }

    const head = h('div', { class: 'row' }, h('h1', {}, t('nav.people')));
    if (mayWrite) {
      head.append(h('span', { class: 'spacer' }),
        button(t('people.export'), () => download('/export/people', 'people.csv'), { id: 'people-export' }));
    }
    // The list and, once someone is chosen, their details beside it (below it on a phone).
    root.append(head, h('div', { class: 'grid' },
      card(t('people.title'), searchForm,
        ctx.session.role === 'supervisor' ? h('p', { class: 'hint' }, t('people.masked')) : null,
        list, pager),
      detail));
    if (mayWrite) root.append(importCard());

    // Filters: the roles (with counts) and the org units of the token's scope.
    api.get('/roles').then((r) => {
      if (!alive) return;
      for (const x of r.items || []) {
        roleSelect.append(h('option', { value: x.role }, `${roleName(x.role)} (${x.count})`));
      }
    }).catch(() => { /* the filter stays "all roles" */ });
    (async () => {
      try {
        const units = [];
        for (let page = 1; page <= 20; page++) {
          const r = await api.get('/org-units' + query({ page, per_page: 500 }));
          units.push(...(r.items || []));
          if (!r.items || r.items.length < 500 || page * 500 >= r.total) break;
        }
        if (!alive) return;
        // In tree order: each unit followed by its sub-units, siblings in the order they were made.
        const children = new Map();
        for (const u of units) {
          const k = u.parent_id ?? 0;
          if (!children.has(k)) children.set(k, []);
          children.get(k).push(u);
        }
        const known = new Set(units.map((u) => u.id));
        const walk = (u) => {
          unitSelect.append(h('option', { value: u.id }, u.path || u.name || t('people.village')));
          for (const c of (children.get(u.id) || []).sort((a, b) => a.id - b.id)) walk(c);
        };
        // Roots: the village, or for a scoped cadre the units whose parent is outside the scope.
        for (const u of units.filter((x) => x.parent_id == null || !known.has(x.parent_id)).sort((a, b) => a.id - b.id)) walk(u);
      } catch { /* the filter stays "all groups" */ }
    })();

    async function loadList() {
      clear(pager);
      try {
        const r = await api.get('/persons' + query({ q: state.q, role: state.role, org_unit_id: state.org_unit_id, page: state.page, per_page: PER_PAGE }));
        if (!alive) return;
        fill(list, table([
          { label: t('people.name'), render: (p) => {
            return h('a', { href: '#/people/' + p.id, id: 'people-open-' + p.id }, p.name); // the row's click opens it
          } },
          { label: t('people.phone'), key: 'phone' },
          { label: t('people.household'), key: 'household_code' },
          { label: t('people.unit'), render: (p) => p.org_unit_path || t('people.village') },
          { label: t('people.roles'), render: (p) => (p.roles || []).filter((x) => x !== 'villager').map(roleName).join('、') },
          { label: t('people.state'), render: (p) => (p.opted_out ? h('span', { class: 'badge warn' }, t('people.opted_out')) : '') },
        ], r.items, {
          id: 'people-list', empty: t('people.none'),
          rowAttrs: (p) => ({
            dataset: { person: p.id }, class: p.id === selected ? 'selected' : null,
            onclick: (ev) => { ev.preventDefault(); openPerson(p.id); },
          }),
        }));
        const pages = Math.max(1, Math.ceil((r.total || 0) / PER_PAGE));
        const prev = h('button', { type: 'button', class: 'small', id: 'people-prev', disabled: state.page <= 1 }, t('common.prev'));
        prev.addEventListener('click', () => { state.page -= 1; loadList(); });
        const next = h('button', { type: 'button', class: 'small', id: 'people-next', disabled: state.page >= pages }, t('common.next'));
        next.addEventListener('click', () => { state.page += 1; loadList(); });
        pager.append(prev, h('span', { class: 'muted', id: 'people-page' }, t('people.page', { page: state.page, pages, total: r.total || 0 })), next);
      } catch (e) {
        if (alive) fill(list, forbiddenOr(e));
      }
    }

    async function openPerson(id) {
      selected = id;
      try { history.replaceState(null, '', '#/people/' + id); } catch { /* the hash stays */ }
      for (const tr of list.querySelectorAll('tr[data-person]')) tr.classList.toggle('selected', Number(tr.dataset.person) === id);
      detail.hidden = false;
      fill(detail, h('h2', {}, t('people.detail')), loading());
      try {
        const p = await api.get('/persons/' + id);
        if (!alive) return;
        const ids = Object.entries(p.identities || {});
        const close = h('button', { type: 'button', class: 'small', id: 'people-detail-close' }, t('common.close'));
        close.addEventListener('click', () => {
          detail.hidden = true;
          selected = 0;
          for (const tr of list.querySelectorAll('tr.selected')) tr.classList.remove('selected');
          try { history.replaceState(null, '', '#/people'); } catch { /* the hash stays */ }
        });
        const rows = [
          [t('people.detail.id'), String(p.id)],
          [t('people.phone'), p.phone || ''],
          [t('people.detail.household'), p.household_code || ''],
          [t('people.detail.unit'), p.org_unit_path || t('people.village')],
          [t('people.roles'), (p.roles || []).map((r) => h('span', { class: 'badge', dataset: { role: r } }, roleName(r))), 'roles'],
          [t('people.detail.identities'), ids.length
            ? ids.map(([kind, ext]) => h('div', { dataset: { kind } }, h('b', {}, kind), ' ', ext))
            : t('people.detail.no_identity'), 'identities'],
          [t('people.detail.lang'), p.lang || t('people.detail.default')],
          [t('people.detail.channel'), p.channel_preference || t('people.detail.default')],
          [t('people.detail.opted_out'), p.opted_out ? h('span', { class: 'badge warn' }, t('common.yes')) : t('common.no')],
          [t('people.detail.created'), p.created_at ? time(p.created_at * 1000) : ''],
          [t('people.detail.updated'), p.updated_at ? time(p.updated_at * 1000) : ''],
        ];
        fill(detail, 
          h('div', { class: 'row' }, h('h2', { id: 'people-detail-name' }, p.name), h('span', { class: 'spacer' }), close),
          h('div', { class: 'table-wrap' }, h('table', { id: 'people-detail-table' }, h('tbody', {},
            rows.map(([label, value, key]) => h('tr', key ? { dataset: { field: key } } : {}, h('th', {}, label), h('td', { 'data-label': label }, value)))))));
        detail.scrollIntoView({ block: 'nearest' });
      } catch (e) {
        if (alive) fill(detail, h('h2', {}, t('people.detail')), forbiddenOr(e));
      }
    }

    // ------------------------------------------------------------ import
    function importCard() {
      const file = h('input', { type: 'file', id: 'people-import-file', accept: '.csv,text/csv' });
      const skip = h('input', { type: 'checkbox', id: 'people-import-skip' });
      const report = h('div', { id: 'people-import-report', 'aria-live': 'polite' });
      const status = h('p', { class: 'hint', id: 'people-import-status' });
      let bytes = null; // what was checked: the apply sends exactly these bytes
      let checked = null; // the dry-run report

      const apply = h('button', { type: 'button', class: 'primary', id: 'people-import-apply', disabled: true }, t('people.import.apply'));
      const refreshApply = () => {
        const problems = checked ? (checked.problems || []).length : 0;
        apply.disabled = !bytes || !checked || (problems > 0 && !skip.checked);
        status.textContent = !checked ? '' : problems === 0 ? t('people.import.ready')
          : skip.checked ? t('people.import.ready_skip') : t('people.import.blocked');
      };
      const reset = () => { bytes = null; checked = null; clear(report); refreshApply(); };
      file.addEventListener('change', reset);

      // The dry run is sent with skip_bad when it is ticked, so that its counts are those of the
      // rows that would be imported; ticking or unticking after a check checks the same bytes again.
      async function dryRun(buf) {
        fill(report, h('p', { class: 'muted' }, t('people.import.reading')));
        try {
          const r = await api.raw('POST', '/import/people' + query({ dry_run: 'true', skip_bad: skip.checked ? 'true' : '' }),
            buf, { contentType: 'text/csv' });
          bytes = buf;
          checked = r;
          showReport(r, 'dry');
        } catch (e) {
          bytes = null;
          checked = null;
          showFailure(e);
        }
        refreshApply();
      }

      const check = button(t('people.import.check'), async () => {
        const f = file.files && file.files[0];
        if (!f) { toast(t('people.import.no_file'), 'bad'); return; }
        reset();
        await dryRun(await f.arrayBuffer());
      }, { id: 'people-import-check' });
      skip.addEventListener('change', () => {
        refreshApply();
        if (bytes && checked && (checked.problems || []).length) {
          apply.disabled = true;
          dryRun(bytes);
        }
      });

      apply.addEventListener('click', async () => {
        if (apply.disabled || !bytes) return;
        apply.disabled = true;
        const sent = bytes;
        fill(report, h('p', { class: 'muted' }, t('people.import.applying')));
        try {
          const r = await api.raw('POST', '/import/people' + query({ skip_bad: skip.checked ? 'true' : '' }), sent, { contentType: 'text/csv' });
          showReport(r, 'applied');
          toast(r.applied ? t('people.import.done', {
            pc: r.persons_created, pu: r.persons_updated, hc: r.households_created, hu: r.households_updated,
          }) : t('people.import.nothing'));
          // Applied: check again before importing another time.
          bytes = null;
          checked = null;
          status.textContent = '';
          loadList();
        } catch (e) {
          showFailure(e);
          toast(e.status === 422 ? t('people.import.refused') : errorText(e), 'bad');
          if (e.status === 422) { bytes = null; checked = null; } // refused: fix the file and check again
          refreshApply();
        }
      });

      function showFailure(e) {
        clear(report);
        if (e.status === 422 && e.data && Array.isArray(e.data.problems)) {
          showReport(e.data, 'refused');
        } else if (e.status === 403 && e.code === 'out_of_scope') {
          report.append(h('div', { class: 'error', role: 'alert' }, errorText(e)), h('p', { class: 'hint' }, t('people.import.only_whole')));
        } else {
          report.append(errorBox(e));
        }
      }

      function showReport(r, kind) {
        const problems = r.problems || [];
        const title = kind === 'dry' ? t('people.import.dry_title') : kind === 'refused' ? t('people.import.refused_title') : t('people.import.applied_title');
        const counts = ['rows', 'persons_created', 'persons_updated', 'households_created', 'households_updated', 'org_units_created', 'changes'];
        fill(report, h('div', {},
          kind === 'refused' ? h('div', { class: 'error', role: 'alert' }, title) : h('h3', {}, title),
          h('div', { class: 'plan', id: 'people-import-counts', dataset: { kind, applied: r.applied ? '1' : '0' } },
            counts.filter((k) => r[k] !== undefined).map((k) => h('div', { dataset: { count: k } }, t('people.import.' + k), h('b', {}, String(r[k]))))),
          problems.length === 0
            ? h('p', { class: 'empty', id: 'people-import-problems' }, t('people.import.no_problems'))
            : [h('h3', {}, t('people.import.problems', { n: problems.length })),
              table([
                { label: t('people.import.line'), render: (p) => (p.line > 0 ? String(p.line) : t('people.import.file_level')) },
                { label: t('people.import.column'), render: (p) => p.column || t('people.import.whole_row') },
                { label: t('people.import.reason'), key: 'reason' }, // both halves: some name the value only in English
              ], problems, { id: 'people-import-problems', rowAttrs: (p) => ({ dataset: { line: p.line } }) })],
          (r.change_lines || []).length
            ? h('details', { id: 'people-import-changes' },
              h('summary', {}, t('people.import.change_lines', { n: r.changes ?? r.change_lines.length })),
              h('pre', { class: 'report' }, r.change_lines.join('\n')))
            : null));
        report.scrollIntoView({ block: 'nearest' });
      }

      return card(t('people.import.title'),
        h('p', { class: 'hint' }, t('people.import.help')),
        field(t('people.import.file'), file),
        h('div', { class: 'checks' }, h('label', {}, skip, t('people.import.skip'))),
        h('div', { class: 'row' }, check, apply),
        status,
        report);
    }

    loadList();
    if (selected) openPerson(selected);
    return () => { alive = false; };
  },
};
