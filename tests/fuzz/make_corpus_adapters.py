#!/usr/bin/env python3
"""Writes the seed corpora of the adapters' fuzz targets (tests/fuzz/targets_adapters.cmake):
tests/fuzz/corpus/<target>/<what-it-is>, in each target's input format: a mode byte ('0', '1' …)
and fields separated by 0x1F, as the comment at the top of tests/fuzz/targets/<target>.cpp says
(generic_webhook has no mode byte). The values come from the adapters' tests (tests/adapters/),
the vendors' published examples (tests/adapters/vectors/signatures.json) and the vendors' formats.
Signatures and ciphertexts use the fixed secrets of the targets, so that the seeds reach the code
behind the checks. Run once after changing a target's format:

    python3 tests/fuzz/make_corpus_adapters.py

Needs only python3 and the openssl command (for AES-256-CBC).
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
US = b"\x1f"


def b(s):
    return s if isinstance(s, bytes) else s.encode("utf-8")


def seed(target, name, mode, *fields):
    data = (b(mode) if mode is not None else b"") + US.join(b(f) for f in fields)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def j(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def aes_cbc(key, iv, data):
    out = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-nopad", "-K", key.hex(), "-iv", iv.hex()],
                         input=data, capture_output=True, check=True)
    return out.stdout


def pkcs7(data, block):
    n = block - len(data) % block
    return data + bytes([n]) * n


# ---- generic_webhook: body [0x1F timestamp 0x1F signature]
def generic_webhook():
    secret, now = b"generic-webhook-secret", "1732838400"

    def sign(ts, body):
        return "sha256=" + hmac.new(secret, b(ts) + b"." + b(body), hashlib.sha256).hexdigest()

    text = j({"message_id": "m-1", "sender": "+8613800000001", "text": "积分"})
    seed("generic_webhook", "text-message.json", None, text)
    seed("generic_webhook", "group-message.json", None,
         j({"message_id": "m-2", "sender": "+8613800000002", "text": "排班", "chat": "yizu"}))
    seed("generic_webhook", "signed-text-message", None, text, now, sign(now, text))
    seed("generic_webhook", "stale-signature", None, text, "1732830000", sign("1732830000", text))
    seed("generic_webhook", "wrong-signature", None, text, now, "sha256=" + "0" * 64)
    seed("generic_webhook", "unicode-escapes.json", None,
         '{"message_id":"m-3","sender":"+8613800000001","text":"\\u79ef\\u5206\\u0000"}')
    seed("generic_webhook", "null-text.json", None, '{"message_id":"m-4","sender":"+8613800000001","text":null}')
    seed("generic_webhook", "number-sender.json", None, '{"message_id":"m-5","sender":13800000001,"text":"x"}')
    seed("generic_webhook", "empty-sender.json", None, '{"message_id":"m-6","sender":"","text":"x"}')
    seed("generic_webhook", "missing-text.json", None, '{"message_id":"m-7","sender":"+8613800000001"}')
    seed("generic_webhook", "array.json", None, '[{"message_id":"m-8"}]')
    seed("generic_webhook", "truncated.json", None, text[:-5])


# ---- wecom: '0' body, query | '1' content, from, id, type | '2' plaintext, receive id |
#             '3' echo, receive id | '4' status, body
def wecom():
    key_text = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
    corp, token, ts, nonce = "wx5823bf96d3bd56c7", "QDG6eK", "1732838400", "1234567"
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(key_text[-1]) & ~3
    key = base64.b64decode(key_text[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last] + "=")

    def encrypt(msg, receive_id=corp):
        plain = b"0123456789abcdef" + struct.pack(">I", len(b(msg))) + b(msg) + b(receive_id)
        return base64.b64encode(aes_cbc(key, key[:16], pkcs7(plain, 32))).decode()

    def signature(encrypted):
        return hashlib.sha1("".join(sorted([token, ts, nonce, encrypted])).encode()).hexdigest()

    def outer(encrypted):
        return ("<xml><ToUserName><![CDATA[" + corp + "]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>"
                "<Encrypt><![CDATA[" + encrypted + "]]></Encrypt></xml>")

    text_xml = ("<xml><ToUserName><![CDATA[" + corp + "]]></ToUserName><FromUserName><![CDATA[wx-001]]></FromUserName>"
                "<CreateTime>1732838400</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[积分]]>"
                "</Content><MsgId>7001</MsgId><AgentID>1000002</AgentID></xml>")
    enc = encrypt(text_xml)
    query = "msg_signature=" + signature(enc) + "&timestamp=" + ts + "&nonce=" + nonce
    seed("wecom", "encrypted-callback.xml", "0", outer(enc), query)
    seed("wecom", "encrypted-callback-bad-signature.xml", "0", outer(enc),
         "msg_signature=" + "0" * 40 + "&timestamp=" + ts + "&nonce=" + nonce)
    # WeCom's published URL check (the GET): the body is empty, everything is in the query.
    seed("wecom", "verify-url-published-example", "0", "",
         "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr="
         "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
    seed("wecom", "not-xml", "0", "not xml", "msg_signature=x")
    seed("wecom", "text-message", "1", "积分", "wx-001", "7001", "")
    seed("wecom", "text-message-with-markup", "1", "<b>明天</b> 开会 & 积分", "wx-002", "7002", "text")
    seed("wecom", "event-enter-agent", "1", "", "wx-001", "", "event")
    seed("wecom", "plaintext-text-message.xml", "2", text_xml, "")
    seed("wecom", "plaintext-event.xml", "2",
         "<xml><ToUserName><![CDATA[" + corp + "]]></ToUserName><FromUserName><![CDATA[wx-001]]></FromUserName>"
         "<CreateTime>1732838400</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]>"
         "</Event><AgentID>1000002</AgentID></xml>", "")
    seed("wecom", "plaintext-image.xml", "2",
         "<xml><FromUserName><![CDATA[wx-001]]></FromUserName><MsgType><![CDATA[image]]></MsgType>"
         "<PicUrl><![CDATA[http://example.cn/a.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>7003</MsgId></xml>",
         "")
    seed("wecom", "plaintext-text-without-id.xml", "2",
         "<xml><FromUserName>wx-001</FromUserName><MsgType>text</MsgType><Content>积分</Content></xml>", "")
    seed("wecom", "plaintext-other-corp.xml", "2", text_xml, "ww-another-corp")
    seed("wecom", "echo-published-example", "3", "1616140317555161061", "")
    seed("wecom", "echo-other-corp", "3", "1616140317555161061", "ww-another-corp")
    seed("wecom", "api-ok.json", "4", "200", j({"errcode": 0, "errmsg": "ok", "msgid": "msg-1"}))
    seed("wecom", "api-throttled.json", "4", "200", j({"errcode": 45009, "errmsg": "api freq out of limit"}))
    seed("wecom", "api-token-expired.json", "4", "200", j({"errcode": 42001, "errmsg": "access_token expired"}))
    seed("wecom", "api-invalid-user.json", "4", "200", j({"errcode": 0, "errmsg": "ok", "invaliduser": "wx-9"}))
    seed("wecom", "api-bad-gateway", "4", "502", "<html>Bad Gateway</html>")


# ---- dingtalk: '0' body | '1' timestamp, sign | '2' status, body
def dingtalk():
    def message(**over):
        m = {"msgtype": "text", "text": {"content": " 积分"}, "msgId": "msg-1", "conversationType": "1",
             "conversationId": "cidPrivate1", "senderStaffId": "dt-001", "senderNick": "王大山",
             "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s-1",
             "sessionWebhookExpiredTime": 1577267636757}
        m.update(over)
        return j(m)

    seed("dingtalk", "text-message-private.json", "0", message())
    seed("dingtalk", "text-message-group.json", "0",
         message(conversationType="2", conversationId="cidGroup1", text={"content": "@村助手 排班"}))
    seed("dingtalk", "picture-message.json", "0", message(msgtype="picture", content={"downloadCode": "x"}))
    seed("dingtalk", "missing-staff-id.json", "0", message(senderStaffId=""))
    seed("dingtalk", "blank-text.json", "0", message(text={"content": " \t\r\n"}))
    seed("dingtalk", "not-an-object.json", "0", '["msgtype","text"]')
    seed("dingtalk", "signature-published-example", "1", "1577262236757",
         "Za/ne6w2koB8B4ROVlgTNd/X+/FbyDpZrXLz57xNZSA=")
    seed("dingtalk", "signature-stale", "1", "1577000000000", "Za/ne6w2koB8B4ROVlgTNd/X+/FbyDpZrXLz57xNZSA=")
    seed("dingtalk", "signature-not-digits", "1", "1577262236757.0", "x")
    seed("dingtalk", "api-ok.json", "2", "200", '{"errcode":0,"errmsg":"ok"}')
    seed("dingtalk", "api-throttled.json", "2", "200", j({"errcode": 130101, "errmsg": "send too fast"}))
    seed("dingtalk", "api-sign-mismatch.json", "2", "200", j({"errcode": 310000, "errmsg": "sign not match"}))
    seed("dingtalk", "api-server-error", "2", "503", "")


# ---- feishu: '0' body, timestamp, nonce, signature | '1' plaintext event | '2' plaintext, IV |
#              '3' unencrypted body | '4' status, body
def feishu():
    encrypt_key, ts, nonce = "test key", "1732838400", "n-1"
    key = hashlib.sha256(encrypt_key.encode()).digest()

    def encrypt(plain, iv=b"0123456789abcdef"):
        return base64.b64encode(iv + aes_cbc(key, iv, pkcs7(b(plain), 16))).decode()

    def message(text, chat_type="p2p", token="verif-token", sender_type="user", message_type="text"):
        return j({"schema": "2.0",
                  "header": {"event_id": "ev-1", "event_type": "im.message.receive_v1", "token": token,
                             "create_time": "1732838400000", "app_id": "cli_test"},
                  "event": {"sender": {"sender_id": {"open_id": "ou_001", "user_id": "u1"}, "sender_type": sender_type},
                            "message": {"message_id": "om_1", "chat_id": "oc_yizu", "chat_type": chat_type,
                                        "message_type": message_type, "content": j({"text": text})}}})

    verification = j({"challenge": "ajls384kdjx98XX", "token": "verif-token", "type": "url_verification"})
    body = j({"encrypt": encrypt(message("积分"))})
    sig = hashlib.sha256((ts + nonce + encrypt_key + body).encode()).hexdigest()
    seed("feishu", "signed-encrypted-message", "0", body, ts, nonce, sig)
    seed("feishu", "signed-encrypted-message-wrong-signature", "0", body, ts, nonce, "0" * 64)
    seed("feishu", "published-encrypted-example.json", "0", j({"encrypt": "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}))
    seed("feishu", "unencrypted-body.json", "0", '{"schema":"2.0"}')
    seed("feishu", "url-verification.json", "1", verification)
    seed("feishu", "text-message-p2p.json", "1", message("积分"))
    seed("feishu", "text-message-group-mention.json", "1", message("@_user_1 积分", chat_type="group"))
    seed("feishu", "text-message-wrong-token.json", "1", message("积分", token="wrong"))
    seed("feishu", "bot-sender.json", "1", message("积分", sender_type="app"))
    seed("feishu", "image-message.json", "1", message("", message_type="image"))
    seed("feishu", "schema1-event.json", "1",
         j({"uuid": "u", "token": "verif-token", "ts": "1", "type": "event_callback",
            "event": {"type": "message", "text": "积分", "open_id": "ou_001"}}))
    seed("feishu", "cipher-published-example", "2", "hello world", "0123456789abcdef")
    seed("feishu", "url-verification-unencrypted.json", "3", verification)
    seed("feishu", "text-message-unencrypted.json", "3", message("排班"))
    seed("feishu", "api-ok.json", "4", "200", '{"code":0,"msg":"success","data":{"message_id":"om_1"}}')
    seed("feishu", "api-token-expired.json", "4", "200", j({"code": 99991663, "msg": "token expired"}))
    seed("feishu", "api-rate-limited.json", "4", "429", j({"code": 99991400, "msg": "request trigger frequency limit"}))
    seed("feishu", "bot-webhook-status-code.json", "4", "200", j({"StatusCode": 0, "StatusMessage": "success"}))


# ---- slack: '0' body | '1' timestamp, signature, body | '2' status, body, Retry-After
def slack():
    def message(**over):
        event = {"type": "message", "user": "U001", "text": "积分", "channel": "D001", "channel_type": "im",
                 "ts": "1732838400.000200"}
        event.update(over)
        return j({"type": "event_callback", "event_id": "Ev001", "team_id": "T1", "event": event})

    seed("slack", "url-verification.json", "0",
         j({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}))
    seed("slack", "message-im.json", "0", message())
    seed("slack", "message-channel-mention.json", "0", message(channel="C001", channel_type="channel",
                                                               text="<@U024BE7LH> 排班"))
    seed("slack", "bot-message.json", "0", message(bot_id="B001", subtype="bot_message"))
    seed("slack", "edited-message.json", "0", message(subtype="message_changed"))
    seed("slack", "message-without-event-id.json", "0",
         j({"type": "event_callback", "event": {"type": "message", "user": "U001", "text": "x", "channel": "C1",
                                                "ts": "1.2"}}))
    seed("slack", "message-without-user.json", "0", message(user=None))
    seed("slack", "app-rate-limited.json", "0", j({"type": "app_rate_limited", "token": "x", "team_id": "T1"}))
    body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
            "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
            "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIF"
            "fN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    seed("slack", "signature-published-example", "1", "1531420618",
         "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", body)
    seed("slack", "signature-stale", "1", "1531400000",
         "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", body)
    seed("slack", "api-ok.json", "2", "200", '{"ok":true,"ts":"1732838400.000100"}', "")
    seed("slack", "api-rate-limited.json", "2", "429", '{"ok":false,"error":"ratelimited"}', "1")
    seed("slack", "api-invalid-auth.json", "2", "200", '{"ok":false,"error":"invalid_auth"}', "")
    seed("slack", "webhook-no-channel", "2", "404", "channel_not_found", "")


# ---- telegram: '0' body | '1' header | '2' status, body
def telegram():
    def update(text, chat_type="private", chat_id=10001, **from_over):
        sender = {"id": 10001, "is_bot": False, "first_name": "王"}
        sender.update(from_over)
        return j({"update_id": 1, "message": {"message_id": 1, "from": sender,
                                              "chat": {"id": chat_id, "type": chat_type}, "date": 1732838400,
                                              "text": text}})

    seed("telegram", "private-text.json", "0", update("积分"))
    seed("telegram", "group-command.json", "0", update("/积分@VillageBot 本月", chat_type="group", chat_id=-1001))
    seed("telegram", "bot-message.json", "0", update("积分", is_bot=True))
    seed("telegram", "sticker.json", "0", j({"update_id": 5, "message": {"message_id": 5, "sticker": {}}}))
    seed("telegram", "edited-message.json", "0",
         j({"update_id": 6, "edited_message": {"message_id": 1, "text": "改", "chat": {"id": 1, "type": "private"}}}))
    seed("telegram", "string-ids.json", "0",
         j({"update_id": 7, "message": {"message_id": "7", "from": {"id": "10001"},
                                        "chat": {"id": "10001", "type": "private"}, "text": "积分"}}))
    seed("telegram", "missing-chat.json", "0", j({"update_id": 8, "message": {"message_id": 8, "from": {"id": 1},
                                                                             "text": "x"}}))
    seed("telegram", "not-json", "0", "{not json")
    seed("telegram", "secret-header-right", "1", "tg-webhook-secret_0123")
    seed("telegram", "secret-header-wrong", "1", "tg-webhook-secret_0124")
    seed("telegram", "api-ok.json", "2", "200", '{"ok":true,"result":{"message_id":42}}')
    seed("telegram", "api-too-many-requests.json", "2", "429",
         '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}')
    seed("telegram", "api-blocked.json", "2", "403",
         '{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}')


# ---- sms_http: '0'/'1' body, query, Content-Type, auth header (token / HMAC) | '2' status, body, Retry-After
def sms_http():
    secret = "s3cret-token-0123456789"
    form = "application/x-www-form-urlencoded"

    def mac(payload):
        return hmac.new(secret.encode(), b(payload), hashlib.sha256)

    seed("sms_http", "report-form", "0", "msgid=P1&stat=DELIVRD", "", form, secret)
    seed("sms_http", "report-form-failed", "0", "msgid=P2&stat=UNDELIV&err=%E7%A9%BA%E5%8F%B7", "", form,
         "Bearer " + secret)
    seed("sms_http", "report-json-batch", "0",
         '[{"data":{"msgid":"m1"},"stat":"DELIVRD"},{"data":{"msgid":7},"stat":"UNDELIV"}]',
         "token=" + secret + "&extra=1", "application/json", "")
    seed("sms_http", "receive-form", "0", "mobile=13800000001&content=%E7%A7%AF%E5%88%86&mo_id=mo-1", "", form, secret)
    seed("sms_http", "receive-get-query", "0", "", "mobile=13800000001&content=%E7%A7%AF%E5%88%86&token=" + secret,
         "", "")
    seed("sms_http", "receive-bad-utf8-escape", "0", "mobile=13800000001&content=%C3%28", "", form, secret)
    seed("sms_http", "receive-json-pointer", "0", '{"mobile":"13800000001","content":"积分","data":{"mo_id":12}}',
         "", "", secret)
    query = "ref=get-1&status=0"
    seed("sms_http", "hmac-report-get-query", "1", "", query, "", "sha256=" + mac(query).hexdigest())
    seed("sms_http", "hmac-report-post-body", "1", "stat=DELIVRD", "msgid=someone-elses", form,
         mac("stat=DELIVRD").hexdigest())
    seed("sms_http", "hmac-report-base64", "1", '{"msgid":"m1","stat":"DELIVRD"}', "", "application/json",
         base64.b64encode(mac('{"msgid":"m1","stat":"DELIVRD"}').digest()).decode())
    seed("sms_http", "answer-json-ok.json", "2", "200", '{"code":0,"data":{"msgid":"g-1"}}', "")
    seed("sms_http", "answer-text-result", "2", "200", "result=0&msgid=abc123", "")
    seed("sms_http", "answer-busy-retry-after", "2", "503", "busy", "30")
    seed("sms_http", "answer-refused-with-phone", "2", "400", "无效号码 13800000001\n请核对", "")
    seed("sms_http", "answer-long-chinese", "2", "500", "网关错误" * 30, "")


# ---- twilio: '0' form body, target, signature | '1' JSON body, target, signature | '2' URL |
#              '3' status, body, Retry-After
def twilio():
    seed("twilio", "sms-callback-published-example", "0",
         "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212",
         "/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    seed("twilio", "repeated-names-published-example", "0",
         "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234", "/myapp.php?foo=1&bar=2",
         "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
    seed("twilio", "sms-callback-chinese", "0",
         "MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B8613800000001&To=%2B15005550006&"
         "Body=%E7%A7%AF%E5%88%86+%E6%9C%AC%E6%9C%88&NumMedia=0", "/hooks/twilio/sms", "wrong")
    seed("twilio", "status-callback", "0",
         "MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=undelivered&ErrorCode=30003&To=%2B8613800000001",
         "/hooks/twilio/status", "")
    seed("twilio", "bad-escape", "0", "Body=%E7%A7%A&From=%2", "/hooks/twilio/sms", "x")
    seed("twilio", "json-body-published-example", "1", '{"property": "value", "boolean": true}',
         "/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
         "a9nBmqA0ju/hNViExpshrM61xv4=")
    seed("twilio", "url-default-port", "2", "https://mycompany.com:443/myapp.php?foo=1&bar=2")
    seed("twilio", "url-ipv6", "2", "http://[::1]:80/hooks/twilio/sms?bodySHA256=ab#frag")
    seed("twilio", "url-no-scheme", "2", "mycompany.com/myapp.php?a=%zz")
    seed("twilio", "api-created.json", "3", "201",
         j({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}), "")
    seed("twilio", "api-unsubscribed.json", "3", "400",
         j({"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}), "")
    seed("twilio", "api-rate-limited.json", "3", "429", j({"code": 20429, "message": "Too Many Requests"}), "2")
    seed("twilio", "api-invalid-number.json", "3", "400",
         j({"code": 21211, "message": "The 'To' number +447700900123 is not a valid phone number."}), "")


# ---- cloud_sms: '0'-'3' bodies (Aliyun report, Aliyun up, Tencent report, Tencent reply) |
#                 '4' path token, query | '5'/'6' status, body (Aliyun, Tencent)
def cloud_sms():
    token = "cb-token-0123456789abcdef"
    seed("cloud_sms", "aliyun-report-batch.json", "0",
         '[{"phone_number":"13800000001","send_time":"2017-01-01 11:12:13","report_time":"2017-02-02 22:23:24",'
         '"success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"12345","out_id":"67890"}]')
    seed("cloud_sms", "aliyun-report-failures.json", "0",
         '[{"biz_id":"1","success":false,"err_code":null,"err_msg":404},'
         '{"biz_id":"3","success":false,"err_code":"MK:0001","err_msg":"空号 13800000001"},'
         '{"biz_id":"4","success":false,"err_code":{"x":1}}]')
    seed("cloud_sms", "aliyun-up.json", "1",
         '[{"phone_number":"13800000001","send_time":"2017-01-01 00:00:00","content":"积分","sign_name":"幸福村",'
         '"dest_code":"1231","sequence_id":1234}]')
    seed("cloud_sms", "aliyun-up-international.json", "1",
         '[{"phone_number":"447700900123","content":"hello","sequence_id":"99"}]')
    seed("cloud_sms", "tencent-report.json", "2",
         '[{"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13800000001",'
         '"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"xxxxxxx"}]')
    seed("cloud_sms", "tencent-report-failures.json", "2",
         '[{"sid":"a","report_status":"FAIL","errmsg":null,"description":404},'
         '{"sid":"b","report_status":"FAIL","errmsg":"MK:0001","description":"空号13800000001"}]')
    seed("cloud_sms", "tencent-reply-object.json", "3",
         '{"extend":"","mobile":"13800000001","nationcode":"86","sign":"幸福村","text":"积分","time":1480569031}')
    seed("cloud_sms", "tencent-reply-array.json", "3",
         '[{"mobile":"13800000001","nationcode":"86","text":"积分","time":1480569031},'
         '{"mobile":"7700900123","nationcode":"44","text":"hello","time":"1480569032"}]')
    seed("cloud_sms", "token-in-path", "4", token, "")
    seed("cloud_sms", "token-in-query", "4", "", "token=" + token + "&x=1")
    seed("cloud_sms", "aliyun-answer-ok.json", "5", "200",
         '{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"r"}')
    seed("cloud_sms", "aliyun-answer-day-limit.json", "5", "200",
         '{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发天级流控Permits:10"}')
    seed("cloud_sms", "aliyun-answer-illegal-number.json", "5", "200",
         '{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"手机号码13800000001格式错误"}')
    seed("cloud_sms", "tencent-answer-ok.json", "6", "200",
         '{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800000001",'
         '"Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"r"}}')
    seed("cloud_sms", "tencent-answer-blacklist.json", "6", "200",
         '{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8613800000001","Fee":0,'
         '"Code":"FailedOperation.PhoneNumberInBlacklist","Message":"blacklist"}],"RequestId":"r"}}')
    seed("cloud_sms", "tencent-answer-error.json", "6", "200",
         '{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"签名错误"},"RequestId":"r"}}')


# ---- dictionaries: tests/fuzz/dict/<target>.dict, the platform's keys and values and JSON's odd corners
JSON_TOKENS = ['{', '}', '[', ']', ':', ',', '"', 'null', 'true', 'false', '0', '-1', '1.5', '1e400', '-1e400',
               '18446744073709551615', '9223372036854775808', '\\u0000', '\\ud800', '\\u79ef', '{}', '[]', '""']
DICT = {
    "generic_webhook": ["message_id", "sender", "text", "chat", "sha256=", "1732838400", "-"],
    "wecom": ["<xml>", "</xml>", "<![CDATA[", "]]>", "<Encrypt>", "</Encrypt>", "<ToUserName>", "</ToUserName>",
              "<FromUserName>", "</FromUserName>", "<MsgType>", "</MsgType>", "<Content>", "</Content>", "<MsgId>",
              "</MsgId>", "<AgentID>", "<CreateTime>", "text", "event", "msg_signature=", "&timestamp=", "&nonce=",
              "&echostr=", "errcode", "errmsg", "msgid", "invaliduser", "45009", "42001", "-1", "%2B", "+", "="],
    "dingtalk": ["msgtype", "text", "content", "msgId", "senderStaffId", "conversationId", "conversationType", "2",
                 "sessionWebhook", "sessionWebhookExpiredTime", "senderNick", "errcode", "errmsg", "130101",
                 "1577262236757", "SECtest"],
    "feishu": ["encrypt", "schema", "2.0", "header", "token", "verif-token", "event_type", "im.message.receive_v1",
               "event_id", "type", "url_verification", "challenge", "event", "sender", "sender_id", "open_id",
               "sender_type", "user", "message", "message_id", "chat_id", "chat_type", "p2p", "group",
               "message_type", "content", "@_user_", "code", "msg", "data", "StatusCode", "99991663", "1732838400",
               "n-1"],
    "slack": ["type", "url_verification", "challenge", "event_callback", "event_id", "event", "message", "subtype",
              "bot_id", "user", "text", "channel", "channel_type", "im", "ts", "<@", ">", "ok", "error",
              "ratelimited", "v0=", "1531420618"],
    "telegram": ["update_id", "message", "message_id", "from", "chat", "id", "is_bot", "type", "private", "group",
                 "text", "/", "@", "ok", "result", "description", "parameters", "retry_after", "edited_message"],
    "sms_http": ["msgid", "stat", "err", "mobile", "content", "data", "mo_id", "DELIVRD", "UNDELIV", "token=",
                 "Bearer ", "sha256=", "application/json", "application/x-www-form-urlencoded", "&", "=", "%", "%FF",
                 "%E7%A7%AF", "+", "code", "result=0", "msgid=", "13800000001", "+8613800000001", "\n", "\xff"],
    "twilio": ["MessageSid", "SmsMessageSid", "From", "To", "Body", "MessageStatus", "ErrorCode", "bodySHA256=",
               "https://", "http://", ":443", ":80", "[::1]", "?", "&", "=", "%", "%2B", "+", "#", "sid", "code",
               "message", "21610", "20429", "+447700900123"],
    "cloud_sms": ["biz_id", "success", "err_code", "err_msg", "phone_number", "content", "sequence_id", "sid",
                  "report_status", "SUCCESS", "FAIL", "errmsg", "description", "mobile", "nationcode", "86", "time",
                  "1480569031", "token=", "Code", "Message", "BizId", "OK", "Ok", "Response", "SendStatusSet",
                  "SerialNo", "Error", "13800000001", "isv.BUSINESS_LIMIT_CONTROL",
                  "FailedOperation.PhoneNumberInBlacklist"],
}


def escape(token):
    out = ""
    try:
        raw = token.encode("latin-1")  # "\xff": the byte itself
    except UnicodeEncodeError:
        raw = token.encode("utf-8")
    for byte in raw:
        c = chr(byte)
        if c in '"\\':
            out += "\\" + c
        elif 32 <= byte < 127:
            out += c
        else:
            out += "\\x%02X" % byte
    return out


def write_dict(name):
    folder = os.path.join(os.path.dirname(ROOT), "dict")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".dict"), "w") as f:
        f.write("# The %s fuzz target's keys and values (tests/fuzz/make_corpus_adapters.py)\n" % name)
        seen = set()
        tokens = DICT[name] + ['"%s"' % t for t in DICT[name] if t.isidentifier()] + JSON_TOKENS + ["\x1f"]
        for t in tokens:
            if t not in seen:
                seen.add(t)
                f.write('"%s"\n' % escape(t))


TARGETS = {"generic_webhook": generic_webhook, "wecom": wecom, "dingtalk": dingtalk, "feishu": feishu, "slack": slack,
           "telegram": telegram, "sms_http": sms_http, "twilio": twilio, "cloud_sms": cloud_sms}

if __name__ == "__main__":
    for name, make in TARGETS.items():
        folder = os.path.join(ROOT, name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        make()
        write_dict(name)
        print(f"{name}: {len(os.listdir(folder))} seeds")
