#!/usr/bin/env python3
"""Smoke test of a server started by start.sh DIR (standard library only).

customer@ -> support@ over SMTP+STARTTLS, read over IMAPS; support@ replies (In-Reply-To,
References) over SMTPS, customer@ reads it over IMAP+STARTTLS. Every TLS connection
verifies the certificate against DIR/tls/ca.pem, as the channel must. Prints OK.
Usage: check.py DIR
"""
import email
import email.message
import email.utils
import imaplib
import smtplib
import ssl
import sys
import time

DIR = sys.argv[1]
env = dict(l.strip().split("=", 1) for l in open(f"{DIR}/env") if "=" in l)
HOST = env["MAIL_HOST"]
CTX = ssl.create_default_context(cafile=env["MAIL_CA"])  # hostname check on: 127.0.0.1 is an IP SAN


def send(port, implicit_tls, user, pw, to, subject, body, reply_to=None):
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = user, to, subject
    msg["Message-ID"] = email.utils.make_msgid(domain="example.test")
    msg["Date"] = email.utils.formatdate()
    if reply_to is not None:  # threading headers, what a mail client uses to group a conversation
        msg["In-Reply-To"] = reply_to["Message-ID"]
        msg["References"] = " ".join(filter(None, [reply_to.get("References"), reply_to["Message-ID"]]))
    msg.set_content(body)
    if implicit_tls:
        s = smtplib.SMTP_SSL(HOST, port, context=CTX, timeout=10)
    else:
        s = smtplib.SMTP(HOST, port, timeout=10)
        s.starttls(context=CTX)
    with s:
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version()
        s.login(user, pw)
        s.send_message(msg)
    return msg


def fetch(port, implicit_tls, user, pw, message_id):
    # Delivery is synchronous (SMTP 250 comes after LMTP 250), but poll briefly anyway so a
    # slow machine gives a clear failure instead of a flaky one.
    if implicit_tls:
        imap = imaplib.IMAP4_SSL(HOST, port, ssl_context=CTX, timeout=10)
    else:
        imap = imaplib.IMAP4(HOST, port, timeout=10)
        imap.starttls(ssl_context=CTX)
    with imap:
        imap.login(user, pw)
        for _ in range(50):
            imap.select("INBOX")
            typ, data = imap.search(None, "HEADER", "Message-ID", message_id)
            if data[0]:
                typ, parts = imap.fetch(data[0].split()[-1], "(RFC822)")
                return email.message_from_bytes(parts[0][1])
            time.sleep(0.1)
    raise SystemExit(f"FAIL: {message_id} not in {user}'s INBOX")


t = time.monotonic()
q = send(int(env["SMTP_PORT"]), False, "customer@example.test", "customer-pass",
         "support@example.test", "Where is my order?", "Order 42 has not arrived.")
got = fetch(int(env["IMAPS_PORT"]), True, "support@example.test", "support-pass", q["Message-ID"])
assert got["From"] == "customer@example.test" and "Order 42" in got.get_payload(), got
print("support@ received:", got["Subject"], got["Message-ID"])

r = send(int(env["SMTPS_PORT"]), True, "support@example.test", "support-pass",
         "customer@example.test", "Re: " + got["Subject"], "It ships today.", reply_to=got)
back = fetch(int(env["IMAP_PORT"]), False, "customer@example.test", "customer-pass", r["Message-ID"])
assert back["In-Reply-To"] == q["Message-ID"] and q["Message-ID"] in back["References"], back
print("customer@ received:", back["Subject"], "In-Reply-To", back["In-Reply-To"])

# A wrong password must be refused by both servers (they share DIR/users).
try:
    send(int(env["SMTPS_PORT"]), True, "support@example.test", "wrong", "customer@example.test", "x", "x")
    raise SystemExit("FAIL: SMTP accepted a wrong password")
except smtplib.SMTPAuthenticationError:
    pass
try:
    imaplib.IMAP4_SSL(HOST, int(env["IMAPS_PORT"]), ssl_context=CTX).login("support@example.test", "wrong")
    raise SystemExit("FAIL: IMAP accepted a wrong password")
except imaplib.IMAP4.error:
    pass
print(f"OK ({time.monotonic() - t:.2f}s)")
