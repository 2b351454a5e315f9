// Chinese first, English on request. Every view registers its own strings, so that views are
// self-contained: t('key') looks in the current language, then Chinese, then shows the key.
const dictionaries = { zh: {}, en: {} };
let lang = (() => {
  try { return localStorage.getItem('vb.lang') === 'en' ? 'en' : 'zh'; } catch { return 'zh'; }
})();

export function registerStrings(strings) {
  for (const l of ['zh', 'en']) Object.assign(dictionaries[l], strings[l] || {});
}

export function t(key, vars) {
  let s = dictionaries[lang][key] ?? dictionaries.zh[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split('{' + k + '}').join(String(v));
  return s;
}

export function currentLang() { return lang; }

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  try { localStorage.setItem('vb.lang', lang); } catch { /* private mode: this page only */ }
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
}

// A refusal from the API is often "中文 / English": show the half in the current language.
export function bilingual(message) {
  if (typeof message !== 'string') return '';
  const i = message.indexOf(' / ');
  if (i < 0) return message;
  return lang === 'en' ? message.slice(i + 3) : message.slice(0, i);
}

registerStrings({
  zh: {
    'app.title': '村务后台', 'app.lang': 'English', 'app.logout': '退出',
    'login.title': '登录村务后台', 'login.token': 'API 令牌', 'login.submit': '登录',
    'login.hint': '令牌由管理员用 villagebot token create 生成，以 vb_ 开头。',
    'login.bad': '令牌无效或已被撤销，请向管理员索取新的令牌。',
    'login.revoked': '您的令牌已失效（被撤销或过期），请重新登录。',
    'login.unreachable': '无法连接服务器：{why}',
    'login.forbidden_role': '此令牌的角色（{role}）没有可用的后台功能。',
    'nav.notices': '通知', 'nav.emergency': '应急', 'nav.opinions': '意见与投票', 'nav.points': '积分',
    'nav.volunteers': '志愿', 'nav.people': '人员',
    'common.loading': '加载中…', 'common.error': '出错了：{why}', 'common.save': '保存', 'common.cancel': '取消',
    'common.refresh': '刷新', 'common.none': '暂无', 'common.export_csv': '导出 CSV', 'common.search': '搜索',
    'common.prev': '上一页', 'common.next': '下一页', 'common.total': '共 {n} 条', 'common.forbidden': '您的角色无权查看此项。',
    'common.done': '已完成', 'common.ok': '确定', 'common.yes': '是', 'common.no': '否', 'common.back': '返回', 'common.close': '关闭',
    'role.admin': '管理员', 'role.cadre': '村干部', 'role.supervisor': '监督委员会', 'role.commander': '指挥长',
    'role.evaluator': '评议员', 'role.group_leader': '组长', 'role.villager': '村民',
  },
  en: {
    'app.title': 'Village console', 'app.lang': '中文', 'app.logout': 'Log out',
    'login.title': 'Log in to the village console', 'login.token': 'API token', 'login.submit': 'Log in',
    'login.hint': 'An administrator creates tokens with villagebot token create; they start with vb_.',
    'login.bad': 'The token is wrong or has been revoked. Ask the administrator for a new one.',
    'login.revoked': 'Your token is no longer valid (revoked). Please log in again.',
    'login.unreachable': 'Cannot reach the server: {why}',
    'login.forbidden_role': 'This token\'s role ({role}) has nothing to use in the console.',
    'nav.notices': 'Notices', 'nav.emergency': 'Emergency', 'nav.opinions': 'Opinions & polls', 'nav.points': 'Points',
    'nav.volunteers': 'Volunteers', 'nav.people': 'People',
    'common.loading': 'Loading…', 'common.error': 'Something went wrong: {why}', 'common.save': 'Save',
    'common.cancel': 'Cancel', 'common.refresh': 'Refresh', 'common.none': 'None', 'common.export_csv': 'Export CSV',
    'common.search': 'Search', 'common.prev': 'Previous', 'common.next': 'Next', 'common.total': '{n} in all',
    'common.forbidden': 'Your role may not see this.', 'common.done': 'Done', 'common.ok': 'OK', 'common.yes': 'Yes', 'common.no': 'No',
    'common.back': 'Back', 'common.close': 'Close',
    'role.admin': 'Administrator', 'role.cadre': 'Cadre', 'role.supervisor': 'Supervision committee',
    'role.commander': 'Commander', 'role.evaluator': 'Evaluator', 'role.group_leader': 'Group leader',
    'role.villager': 'Villager',
  },
});
