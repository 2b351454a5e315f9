#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets in tests/fuzz/targets_core.cmake (run once; the files
are kept in git): SMPP PDUs laid out as SMPP 3.4 lays them out, the modem's AT dialogue with SMS PDUs
built as TS 23.040 builds them (the published deliver/submit vectors among them), the people CSV in
UTF-8, UTF-8 with a BOM and GBK, configs, command texts and codec inputs. Each is taken from the
tests (tests/adapters/smpp, tests/adapters/modem, tests/core) and config/.

    python3 tests/fuzz/make_corpus_core.py
"""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ---- SMPP 3.4 -----------------------------------------------------------------------------------

def pdu(command_id, status, sequence, body=b""):
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def sm_body(source, dest, esm_class, data_coding, short_message, tlvs=b"", source_ton=1, dest_ton=1):
    return (cstr("") + bytes([source_ton, 1]) + cstr(source) + bytes([dest_ton, 1]) + cstr(dest) +
            bytes([esm_class, 0, 0]) + cstr("") + cstr("") + bytes([1, 0, data_coding, 0, len(short_message)]) +
            short_message + tlvs)


def ucs2(s):
    return s.encode("utf-16-be")


def smpp():
    t = "smpp_pdu"
    write(t, "bind_transceiver.bin",
          pdu(0x00000009, 0, 1, cstr("village") + cstr("secret") + cstr("") + bytes([0x34, 0, 0]) + cstr("")))
    write(t, "bind_transceiver_resp-sc_interface_version.bin",
          pdu(0x80000009, 0, 1, cstr("SMSC") + tlv(0x0210, b"\x34")))
    write(t, "bind_transceiver_resp-invalid-password-empty.bin", pdu(0x80000009, 0x0E, 1))
    submit = sm_body("10690000", "13800000001", 0, 8, ucs2("你好"),
                     tlv(0x020C, b"\x12\x34") + tlv(0x020E, b"\x03") + tlv(0x020F, b"\x01"), 0, 2)
    write(t, "submit_sm-ucs2-sar.bin", pdu(0x00000004, 0, 7, submit))
    write(t, "submit_sm_resp-ok.bin", pdu(0x80000004, 0, 7, cstr("A0000001")))
    write(t, "submit_sm_resp-throttled-empty.bin", pdu(0x80000004, 0x58, 9))
    receipt = b"id:0123456789 sub:001 dlvrd:001 submit date:2611301000 done date:2611301001 stat:DELIVRD err:000 text:"
    write(t, "deliver_sm-receipt-text.bin", pdu(0x00000005, 0, 11, sm_body("8613800000001", "10690000", 0x04, 0, receipt)))
    write(t, "deliver_sm-receipt-tlvs.bin",
          pdu(0x00000005, 0, 12, sm_body("8613800000001", "10690000", 0x04, 0, b"",
                                         tlv(0x001E, cstr("A0000005")) + tlv(0x0427, b"\x03"))))
    udh = bytes([5, 0, 3, 0x2A, 3, 2])
    write(t, "deliver_sm-ucs2-concat.bin",
          pdu(0x00000005, 0, 13, sm_body("8613800000001", "10690000", 0x40, 8, udh + ucs2("第二段"))))
    write(t, "deliver_sm-ucs2-concat16.bin",
          pdu(0x00000005, 0, 14, sm_body("8613800000001", "10690000", 0x40, 8,
                                         bytes([6, 8, 4, 0xBE, 0xEF, 2, 1]) + ucs2("积分😀"))))
    write(t, "deliver_sm-gsm7-unpacked.bin",
          pdu(0x00000005, 0, 15, sm_body("13800000001", "10690000", 0, 0, b"\x00JF 1\x1b\x65")))
    write(t, "deliver_sm-message_payload.bin",
          pdu(0x00000005, 0, 16, sm_body("13800000001", "10690000", 0, 8, b"", tlv(0x0424, ucs2("明天上午九点开会")))))
    write(t, "deliver_sm-latin1-sar.bin",
          pdu(0x00000005, 0, 17, sm_body("13800000001", "10690000", 0, 3, b"caf\xe9",
                                         tlv(0x020C, b"\x02\x01") + tlv(0x020E, b"\x02") + tlv(0x020F, b"\x02"))))
    write(t, "enquire_link.bin", pdu(0x00000015, 0, 20))
    write(t, "unbind_resp.bin", pdu(0x80000006, 0, 21))
    write(t, "generic_nack-invalid-command-id.bin", pdu(0x80000000, 0x03, 22))
    write(t, "unknown-command.bin", pdu(0x00000103, 0, 5, b"xyz"))
    write(t, "stream-enquire-deliver-unbind.bin",
          pdu(0x00000015, 0, 30) +
          pdu(0x00000005, 0, 31, sm_body("8613800000001", "10690000", 0, 8, ucs2("积分"))) +
          pdu(0x00000006, 0, 32))
    write(t, "command_length-too-small.bin", struct.pack(">IIII", 8, 4, 0, 1))


# ---- SMS PDUs (3GPP TS 23.040) ------------------------------------------------------------------

GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
             "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40,
           "€": 0x65}


def septets(text):
    out = []
    for c in text:
        if c in GSM_EXT:
            out += [0x1B, GSM_EXT[c]]
        else:
            out.append(GSM_BASIC.index(c))
    return out


def pack(sept, fill=0):
    bits = fill + 7 * len(sept)
    out = bytearray((bits + 7) // 8)
    for i, s in enumerate(sept):
        pos = fill + 7 * i
        out[pos // 8] |= (s << (pos % 8)) & 0xFF
        if pos % 8 > 1:
            out[pos // 8 + 1] |= s >> (8 - pos % 8)
    return bytes(out)


def semi_octets(digits):
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def address(number):
    intl = number.startswith("+")
    digits = number.lstrip("+")
    return bytes([len(digits), 0x91 if intl else 0x81]) + semi_octets(digits)


SCTS = bytes.fromhex("62110301000023")  # 2026-11-30 10:00:00 +08:00
SMSC = bytes.fromhex("0891683108200105F0")  # +8613800210500


def user_data(text, dcs, udh=b""):
    if dcs == 0x08:
        ud = ucs2(text)
        return bytes([len(udh) + len(ud)]) + udh + ud
    if dcs in (0x04, 0xF4):
        ud = text.encode("utf-8")
        return bytes([len(udh) + len(ud)]) + udh + ud
    sept = septets(text)
    fill = (7 - (len(udh) * 8) % 7) % 7
    udl = (len(udh) * 8 + fill) // 7 + len(sept)
    return bytes([udl]) + udh + pack(sept, fill)


def deliver(sender, text, dcs=0x00, udh=b"", smsc=SMSC, scts=SCTS):
    first = 0x04 | (0x40 if udh else 0)
    return smsc + bytes([first]) + address(sender) + bytes([0, dcs]) + scts + user_data(text, dcs, udh)


def status_report(reference, recipient, status, smsc=SMSC):
    return smsc + bytes([0x06, reference]) + address(recipient) + SCTS + SCTS + bytes([status])


def sms_input(mode, pdu_bytes, length=0):
    """mode & 1: raw octets, else hex text; mode & 6: how the <length> is given (see sms_pdu.cpp)."""
    payload = pdu_bytes if mode & 1 else pdu_bytes.hex().upper().encode()
    return bytes([mode, length]) + payload


def sms():
    t = "sms_pdu"
    vector = bytes.fromhex("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    write(t, "deliver-vector-hex.txt", sms_input(0, vector))
    write(t, "deliver-vector-without-smsc.txt", sms_input(4, vector[8:]))
    write(t, "deliver-vector-raw.bin", sms_input(1, vector))
    write(t, "submit-vector-hex.txt", sms_input(0, bytes.fromhex("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")))
    write(t, "deliver-ucs2-chinese.bin", sms_input(7, deliver("+8613800000001", "积分 查询 ☎ 😀", 0x08)))
    write(t, "deliver-ucs2-concat16.bin",
          sms_input(7, deliver("+8613800000001", "分", 0x08, bytes([6, 8, 4, 0xBE, 0xEF, 2, 2]))))
    write(t, "deliver-gsm7-concat8-fill.bin",
          sms_input(1 | 6 | (5 << 3), deliver("13800000001", "Price: 5€ [x] {y}", 0x00, bytes([5, 0, 3, 7, 2, 1]))))
    write(t, "deliver-gsm7-extension.txt", sms_input(0, deliver("13800000001", "Price: 5€ [x] {y} ~z^ |w| \\")))
    alnum = bytes.fromhex("00" + "04" + "07D049B7F90D" + "00" + "F4" + "62113010000023" + "03" + "414243")
    write(t, "deliver-alphanumeric-8bit-class0.txt", sms_input(0, alnum))
    negative = bytearray(alnum)
    negative[16] = 0x29
    write(t, "deliver-negative-timezone.bin", sms_input(1, bytes(negative)))
    write(t, "deliver-long-gsm7-160.bin", sms_input(1, deliver("+8613800000001", "a" * 160)))
    write(t, "status-report-delivered.txt", sms_input(0, status_report(17, "+8613800000001", 0x00)))
    write(t, "status-report-still-trying.bin", sms_input(7, status_report(18, "+8613800000001", 0x21)))
    write(t, "status-report-expired-no-smsc.txt", sms_input(2, status_report(19, "13800000001", 0x46, b"\x00")[1:], 25))
    write(t, "hostile-udhl-past-ud.txt", sms_input(0, bytes.fromhex("00440B917238880900F1000899309251619580020500")))


def modem_at():
    t = "modem_at"
    d1 = deliver("+8613800000001", "积分", 0x08)
    d2 = deliver("13800000002", "JF 1")
    s1 = status_report(17, "+8613800000001", 0x00)
    tp = lambda b: len(b) - (1 + b[0])  # noqa: E731  the TPDU length, as the modem gives it
    write(t, "cmgl-two-messages.txt",
          "\r\n+CMGL: 1,0,,%d\r\n%s\r\n+CMGL: 2,1,,%d\r\n%s\r\n\r\nOK\r\n" % (tp(d1), d1.hex().upper(), tp(d2), d2.hex().upper()))
    write(t, "cmgl-status-report-and-draft.txt",
          "\r\n+CMGL: 3,0,,%d\r\n%s\r\n+CMGL: 4,2,,23\r\n0011000B916407281553F80000AA0AE8329BFD4697D9EC37\r\n\r\nOK\r\n" %
          (tp(s1), s1.hex().upper()))
    write(t, "cmgr-one-message.txt", "\r\n+CMGR: 0,,%d\r\n%s\r\n\r\nOK\r\n" % (tp(d2), d2.hex().upper()))
    write(t, "cmti-new-message.txt", "\r\n+CMTI: \"SM\",3\r\n")
    write(t, "cds-status-report.txt", "\r\n+CDS: %d\r\n%s\r\n" % (tp(s1), s1.hex().upper()))
    write(t, "cmt-unstored-message.txt", "\r\n+CMT: ,%d\r\n%s\r\n" % (tp(d1), d1.hex().upper()))
    write(t, "cmgs-prompt-and-reference.txt", "\r\n> \r\n+CMGS: 17\r\n\r\nOK\r\n")
    write(t, "cms-error-smsc-unknown.txt", "\r\n+CMS ERROR: 330\r\n")
    write(t, "cme-error-sim-pin.txt", "\r\n+CME ERROR: 11\r\n")
    write(t, "csq-creg-urcs.txt", "\r\n+CSQ: 23,99\r\n\r\nOK\r\n\r\n+CREG: 0,1\r\n\r\nOK\r\n+CREG: 5\r\n")
    write(t, "echo-then-error.txt", "AT+CMGL=4\r\r\nERROR\r\n")
    write(t, "ring-clip-masked.txt", "RING\r\n\r\n+CLIP: \"13800000001\",129,,,,0\r\n^BOOT:1,0,0,0,0\r\n")
    write(t, "lone-cr-line-ends.txt", "\r+CMTI: \"ME\",12\r+CDS: 25\rZZ\rOK\r")


# ---- The people CSV -----------------------------------------------------------------------------

HEADER = "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n"


def people():
    t = "people_csv"
    with open(os.path.join(ROOT, "config", "demo", "people.csv"), encoding="utf-8") as f:
        demo = "".join(f.readlines()[:30])
    write(t, "people-demo-utf8.csv", demo)
    write(t, "people-demo-bom.csv", "\ufeff" + demo)
    write(t, "people-demo-gbk.csv", demo.encode("gbk"))
    write(t, "people-quoted-multiline.csv",
          HEADER + "H001,\"Smith, John\",\"Smith, John\",13800000201,一组,\"党员\n志愿者\"\r\n"
          "H001,\"Smith, John\",\"Mary \"\"Molly\"\" Smith\",13800000202,一组,\"村民，评议员\"\r\n"
          "H002,陈,陈一,13800000203,一组,\"志愿者|\n\n应急队员\",,,,,,,\"一组、\n一组/东院\"\r\n"
          "H002,陈,陈二,12345,一组\r\n")
    write(t, "people-english-header.csv",
          " Household ,HEAD,Name,phone,Group,Roles,WeCom_ID,dingtalk_id,feishu_id,Telegram_ID,LANG,Central_Household,"
          "Responsible_For\n"
          "H001,Li Lei,Li Lei,+86 138-0000-0201,Group 1/North yard,cadre|party_member,lilei,ding1,ou_1,42,English,,*\n"
          "H002,Han Meimei,Han Meimei,008613800000202,Group 1,Central_Household_Head;volunteer,,,,,zh,,\n"
          "H003,Jim,Jim,8613800000203,Group 1,,,,,,en,H002,\n")
    write(t, "people-minimal-columns-crlf.csv", "手机,姓名,户号\r\n13800000201,蒋一,H001\r\n13800000202,蒋二,H001\r\n\r\n")
    write(t, "people-bad-rows.csv",
          HEADER + "H004,冯四,冯四,13800000204,,,x y\nH005,冯五,,1380000020,一组//东院,族长,,,,,fr,,\n"
          ",,,,,,,,,,,,,extra\n'=cmd,'+x,冯六,12800000206,全村,管理员,,,,,,,\n")
    write(t, "people-unterminated-quote.csv", HEADER + "H001,\"王,王一,13800000001\n")
    write(t, "people-unknown-and-duplicate-columns.csv", "户号,姓名,手机,手机号,备注,\nH001,王一,13800000001,,x,\n")
    write(t, "people-excel-blank-rows.csv", HEADER + ",,,,,,,,,,,,\n\u3000,\u00a0,,,,,,,,,,,\n" +
          "H001,王建国,王建国,138 0000 0001,一组／东院,村民、党员,,,,,中文,H010,一组\n")


# ---- The config file ----------------------------------------------------------------------------

def configs():
    t = "config"
    for name, path in (("demo-config.toml", ("config", "demo", "villagebot.toml")),
                       ("example-config.toml", ("config", "villagebot.example.toml"))):
        with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
            write(t, name, f.read())
    write(t, "product-brief.toml", """[village]
name = "幸福村"
timezone = "Asia/Shanghai"

[server]
listen = "127.0.0.1:8080"
threads = 2

[storage]
path = "data/villagebot.db"

[pipeline]
rate_limit_messages = 5
rate_limit_window_s = 30
bot_names = ["村小助手"]

[plugins]
dir = "build/plugins"
enabled = ["points", "announcements", "opinions", "volunteers", "emergency"]

[[adapters]]
id = "generic"
type = "generic-webhook"
secret = "${VB_FUZZ_SECRET:-s3cr3t-值}"
""")
    write(t, "points-plugin-section.toml", """[plugins]
enabled = ["points"]

[plugins.points]
monthly_cap = 5000
rounding = "up"
categories = ["卫生", "治安"]
mixed = ["a", 1]
ratio = 2
ratio_f = 0.5
public = "yes"
enabled_flag = true

[[plugins.points.rules]]
name = "clean_yard"
points = 5

[[plugins.points.rules]]
name = "fire_drill"
points = 7
scroe = 8
""")
    write(t, "adapters-duplicate-id.toml", '[[adapters]]\nid = "generic"\ntype = "generic-webhook"\n\n'
          '[[adapters]]\nid = "generic"\ntype = "console"\nrate_per_minute = 20\nburst = 0\ncost_per_segment = 0.05\n')
    write(t, "env-placeholders.toml", '[village]\nname = "${1NAME}"\ntimezone = "${TZ_NOT_SET}"\n[storage]\n'
          'path = "${HOME}/db ${UNTERMINATED"\n')
    write(t, "bad-values.toml", '[server]\nlisten = "[::1]:99999"\nthreads = 0\n[logging]\nlevel = "loud"\n'
          '[delivery]\nquiet_hours = "21:30-07:00"\nmax_attempts = 1000\n[storage]\nsynchronous = "off"\n'
          '[http_client]\nhttps_proxy = "socks5://x"\n[plugins]\nenabled = ["a", "a"]\n[plugins.b]\n')
    write(t, "syntax-error.toml", '[server]\nlisten = "127.0.0.1:8080"\nthreads = = 2\n[village]\nname = "幸福村\n')
    write(t, "toml-types.toml", 'a = 1979-05-27T07:32:00Z\nb = [[1, 2], ["x"]]\nc = { d = 0x1F, e = inf }\n'
          'f = """\nmulti\nline"""\ng = \'literal\\n\'\n[[adapters]]\nid = "sms-1"\ntype = "smpp"\n'
          '[adapters.options]\nurl = "http://x"\n')


# ---- Command text and the SDK's codecs ----------------------------------------------------------

def command_text():
    t = "command_text"
    samples = {
        "mention-points.txt": "@村小助手 积分",
        "fullwidth-redeem.txt": "兑换　Ａ０１，２",
        "redeem-pattern.txt": "兑换 A01 2",
        "vote-colon.txt": "投票：12，3",
        "english-case.txt": "  JF   1 ",
        "typo-suggestion.txt": "我想查积份",
        "bare-number.txt": "1",
        "phones-in-text.txt": "请联系13800000001或+8613800000002，座机010-12345678，身份证110101199001011234",
        "phone-formatted.txt": "+86 138-0000-0001",
        "long-chinese-sms.txt": "明天上午九点在村委会开院坝会，商量修路的事，请每户派一人参加。" * 8,
        "gsm-extension-sms.txt": "Price: 5€ [x] {y} ~z^ |w| \\ " * 10,
        "date-pattern.txt": "12月31日 通知",
    }
    for name, value in samples.items():
        write(t, name, value)
    write(t, "emoji-and-invalid-utf8.txt", "积分😀".encode() + b"\xff\xc0\xaf\xed\xa0\x80")


def sdk_codecs():
    t = "sdk_codecs"
    write(t, "hex-lower.txt", "0123456789abcdef")
    write(t, "hex-upper.txt", "DEADBEEF00FF")
    write(t, "base64-padded.txt", "aGVsbG8gd29ybGQ=")
    write(t, "base64-two-pads.txt", "YQ==")
    write(t, "gsm7-text.txt", "Hello @ £$ ΔΦ €[]{}")
    write(t, "gsm7-packed-hellohello.bin", bytes.fromhex("E8329BFD4697D9EC37"))
    write(t, "ucs2-chinese-emoji.bin", ucs2("积分😀"))
    write(t, "ucs2-unpaired-surrogate.bin", b"\xd8\x3d\x00\x41\xdc\x00")
    write(t, "udh-concat8.bin", bytes([5, 0, 3, 0x2A, 3, 2]))
    write(t, "udh-concat16-after-other.bin", bytes([10, 0x24, 1, 0, 8, 4, 0xBE, 0xEF, 2, 1, 0]))
    write(t, "utf8-mixed-invalid.bin", "村".encode() + b"\xe6\x9d" + b" \xf0\x9f\x98\x80 \xc0\x80")
    write(t, "query-string.txt", "?a=1&b=%E4%BD%A0+%E5%A5%BD&&c&d=%zz&e=%4")


if __name__ == "__main__":
    smpp()
    sms()
    modem_at()
    people()
    configs()
    command_text()
    sdk_codecs()
