#include "at.hpp"

#include <charconv>

namespace villagebot::adapters::modem {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int> to_int(std::string_view s) {
  s = trim(s);
  int v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == ',' && !quoted) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

struct CmsEntry {
  int code;
  bool retry;
  const char* zh;
  const char* en;
};

// TS 27.005 §3.2.5. Retry: the network, the service centre or the SIM may take it later.
// Give up: the number, the message or the subscription is wrong, and sending again changes nothing.
constexpr CmsEntry kCms[] = {
    {1, false, "空号", "unassigned (unallocated) number"},
    {8, false, "运营商禁止", "operator determined barring"},
    {10, false, "呼叫受限", "call barred"},
    {17, true, "网络故障", "network failure"},
    {21, false, "短信被拒收", "short message transfer rejected"},
    {22, true, "网络拥塞", "congestion"},
    {27, true, "对方暂时无法接收", "destination out of service"},
    {28, false, "用户无法识别", "unidentified subscriber"},
    {29, false, "业务被拒绝", "facility rejected"},
    {30, false, "未知用户", "unknown subscriber"},
    {38, true, "网络故障", "network out of order"},
    {41, true, "临时故障", "temporary failure"},
    {42, true, "网络拥塞", "congestion"},
    {47, true, "资源暂不可用", "resources unavailable"},
    {50, false, "未开通短信业务", "requested facility not subscribed"},
    {69, false, "不支持该业务", "requested facility not supported by the network"},
    {81, true, "短信参考号无效", "invalid short message transfer reference value"},
    {95, false, "短信无效", "invalid message"},
    {96, false, "短信缺少必要信息", "invalid mandatory information"},
    {97, false, "短信类型不受支持", "message type unknown to or unsupported by the network"},
    {98, true, "短信协议状态不符", "message not compatible with the short message protocol state"},
    {99, false, "短信信息单元不受支持", "information element unknown to or unsupported by the network"},
    {111, true, "协议错误", "protocol error, unspecified"},
    {127, true, "网间互通错误", "interworking, unspecified"},
    {128, false, "不支持电信业务互通", "telematic interworking not supported"},
    {143, false, "协议标识错误", "unspecified TP-PID error"},
    {144, false, "编码不受支持", "data coding scheme (alphabet) not supported"},
    {145, false, "短信类别不受支持", "message class not supported"},
    {159, false, "编码错误", "unspecified TP-DCS error"},
    {176, false, "短信格式不受支持", "TPDU not supported"},
    {192, true, "短信中心忙", "SC busy"},
    {193, false, "未订阅短信中心", "no SC subscription"},
    {194, true, "短信中心故障", "SC system failure"},
    {195, false, "号码无效", "invalid SME address"},
    {196, false, "对方号码被禁止", "destination SME barred"},
    {197, false, "重复短信被拒", "SM rejected - duplicate SM"},
    {198, false, "有效期格式不受支持", "TP-VPF not supported"},
    {199, false, "有效期不受支持", "TP-VP not supported"},
    {212, true, "SIM 卡忙", "SIM application toolkit busy"},
    {255, true, "未知错误", "unspecified error cause"},
    {300, true, "模块故障", "ME failure"},
    {301, true, "短信服务被占用", "SMS service of ME reserved"},
    {302, true, "当前不允许该操作", "operation not allowed"},
    {303, false, "不支持该操作", "operation not supported"},
    {304, false, "PDU 参数无效", "invalid PDU mode parameter"},
    {305, false, "文本参数无效", "invalid text mode parameter"},
    {310, true, "未插 SIM 卡", "SIM not inserted"},
    {311, true, "SIM 卡需要 PIN", "SIM PIN required"},
    {312, true, "需要 PH-SIM PIN", "PH-SIM PIN required"},
    {313, true, "SIM 卡故障", "SIM failure"},
    {314, true, "SIM 卡忙", "SIM busy"},
    {315, true, "SIM 卡错误", "SIM wrong"},
    {316, true, "SIM 卡需要 PUK", "SIM PUK required"},
    {320, true, "存储器故障", "memory failure"},
    {322, true, "存储已满", "memory full"},
    {330, true, "短信中心号码未知（请设置 smsc）", "SMSC address unknown (set smsc)"},
    {331, true, "无网络服务", "no network service"},
    {332, true, "网络超时", "network timeout"},
    {500, true, "未知错误", "unknown error"},
};

}  // namespace

bool is_final_result(std::string_view line) {
  return line == "OK" || line == "ERROR" || line.starts_with("+CMS ERROR") || line.starts_with("+CME ERROR") ||
         line == "NO CARRIER" || line == "BUSY" || line == "NO ANSWER" || line == "NO DIALTONE";
}

std::optional<int> error_number(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  line.remove_prefix(prefix.size());
  if (!line.starts_with(":")) return std::nullopt;
  return to_int(line.substr(1));
}

std::optional<StoredAt> parse_cmti(std::string_view line) {
  if (!line.starts_with("+CMTI:")) return std::nullopt;
  const auto f = fields(line.substr(6));
  if (f.size() < 2) return std::nullopt;
  auto index = to_int(f[1]);
  if (!index || *index < 0) return std::nullopt;
  std::string memory(f[0]);
  if (memory.size() >= 2 && memory.front() == '"' && memory.back() == '"') memory = memory.substr(1, memory.size() - 2);
  return StoredAt{memory, *index};
}

std::optional<int> parse_cmgs(std::string_view line) {
  if (!line.starts_with("+CMGS:")) return std::nullopt;
  const auto f = fields(line.substr(6));
  auto mr = to_int(f[0]);
  if (!mr || *mr < 0 || *mr > 255) return std::nullopt;
  return mr;
}

std::optional<int> parse_pdu_urc_length(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto f = fields(line.substr(colon + 1));
  auto n = to_int(f.back());
  if (!n || *n < 0 || *n > 200) return std::nullopt;
  return n;
}

std::vector<StoredPdu> parse_stored(const std::vector<std::string>& lines) {
  std::vector<StoredPdu> out;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const bool list = line.starts_with("+CMGL:");
    if (!list && !line.starts_with("+CMGR:")) continue;
    const auto f = fields(line.substr(6));
    StoredPdu p;
    std::size_t k = 0;
    if (list) {
      if (f.size() < 3) continue;
      p.index = to_int(f[k++]).value_or(-1);
    }
    if (f.size() < k + 2) continue;
    p.stat = to_int(f[k]).value_or(-1);
    p.length = to_int(f.back()).value_or(-1);
    p.pdu = lines[i + 1];
    ++i;
    if ((list && p.index < 0) || p.length < 0) continue;
    out.push_back(std::move(p));
  }
  return out;
}

CmsVerdict cms_verdict(int code) {
  for (const auto& e : kCms) {
    if (e.code == code)
      return {e.retry, std::string(e.zh) + " / " + e.en + " (+CMS ERROR: " + std::to_string(code) + ")"};
  }
  // Unlisted codes (reserved, manufacturer-specific 512-): try again; max_attempts bounds it.
  return {true, "短信发送失败 / the modem refused the message (+CMS ERROR: " + std::to_string(code) + ")"};
}

}  // namespace villagebot::adapters::modem
