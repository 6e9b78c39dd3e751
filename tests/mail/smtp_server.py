#!/usr/bin/env python3
"""Loopback SMTP server for the e-mail channel's tests (started by start.sh).

Why this and not Postfix/OpenSMTPD: both need root, system users and debconf, and
Dovecot's own `submission` service can only relay to another SMTP server. aiosmtpd
(Debian `python3-aiosmtpd`) is a complete SMTP implementation (ESMTP, STARTTLS,
AUTH PLAIN/LOGIN, pipelining-safe parsing); we only add the delivery step, which
hands each message to Dovecot over LMTP so it lands in the very maildirs IMAP serves.

Usage: smtp_server.py DIR SMTP_PORT SMTPS_PORT   (reads DIR/users, DIR/tls, DIR/run/lmtp)
"""
import asyncio
import logging
import os
import signal
import smtplib
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DIR, SMTP_PORT, SMTPS_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LMTP_SOCKET = os.path.join(DIR, "run", "lmtp")
# AUTH_REQUIRED=1 makes MAIL FROM fail before AUTH, like a real submission server.
AUTH_REQUIRED = os.environ.get("MAIL_SMTP_AUTH_REQUIRED") == "1"


def load_users():
    # Same passwd-file Dovecot uses ("user:{PLAIN}password:..."), so both agree on credentials.
    users = {}
    with open(os.path.join(DIR, "users")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, pw = line.split(":")[:2]
                users[name.lower()] = pw.removeprefix("{PLAIN}")
    return users


USERS = load_users()


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and USERS.get(auth_data.login.decode().lower()) == auth_data.password.decode())
    # handled=False: let aiosmtpd send "535 credentials invalid" (its default, True, sends nothing).
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class LmtpHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Only local mailboxes exist; refusing at RCPT (not after DATA) is what a real MTA
        # does for unknown users and never relays, so a test cannot send mail off the box.
        if address.lower() not in USERS:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # smtplib is blocking; run it off the event loop so other sessions keep going.
        return await asyncio.get_running_loop().run_in_executor(None, deliver, envelope)


def deliver(envelope):
    # One LMTP transaction per recipient: LMTP answers DATA once per recipient, which
    # smtplib.LMTP does not read (a 2nd recipient's reply would desync the connection).
    failed = []
    try:
        with smtplib.LMTP(LMTP_SOCKET) as lmtp:
            for rcpt in envelope.rcpt_tos:
                try:
                    lmtp.sendmail(envelope.mail_from, [rcpt], envelope.original_content)
                except smtplib.SMTPException as e:
                    failed.append((rcpt, str(e)))
                    lmtp.rset()
    except Exception as e:  # Dovecot down or misconfigured
        logging.exception("LMTP delivery failed")
        return "451 4.3.0 Local delivery failed: %s" % e
    if failed:
        # Loud rather than partial: in tests a failed local delivery is a bug to see, not retry.
        logging.error("LMTP refused: %r", failed)
        return "451 4.3.0 Local delivery failed for %s" % ", ".join(r for r, _ in failed)
    return "250 OK delivered"


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(DIR, "tls", "server.pem"), os.path.join(DIR, "tls", "server.key"))
    return ctx


def factory(implicit_tls):
    common = dict(hostname="mail.example.test", ident="switchboard-test-smtp",
                  authenticator=authenticate, auth_required=AUTH_REQUIRED)
    if implicit_tls:
        # The whole connection is TLS already, so aiosmtpd's "AUTH needs STARTTLS" rule must be off.
        return lambda: SMTP(LmtpHandler(), auth_require_tls=False, **common)
    # Port with STARTTLS: AUTH is only offered after STARTTLS (auth_require_tls default).
    return lambda: SMTP(LmtpHandler(), tls_context=tls_context(), **common)


async def main():
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(factory(False), "127.0.0.1", SMTP_PORT),
        await loop.create_server(factory(True), "127.0.0.1", SMTPS_PORT, ssl=tls_context()),
    ]
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    logging.info("listening on 127.0.0.1:%d (STARTTLS) and :%d (TLS)", SMTP_PORT, SMTPS_PORT)
    await stop
    for s in servers:
        s.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(main())
