#!/usr/bin/env bash
# Installs what start.sh needs, for CI (root, Debian 12). Idempotent: skips apt entirely when
# everything is present, so a re-run costs ~0.1 s; a first install takes ~20 s (19 s measured here).
#   dovecot-imapd  IMAP server (pulls dovecot-core: master, auth, passwd-file, TLS)
#   dovecot-lmtpd  LMTP, the socket smtp_server.py delivers through
#   python3-aiosmtpd  SMTP protocol implementation for /usr/bin/python3 (Debian's, not pyenv's)
#   openssl        generates the per-DIR test CA and server certificate
# The packages' postinst would start a system-wide dovecot (ports 143/993 on all addresses);
# on these machines policy-rc.d forbids that, and start.sh never uses /etc/dovecot anyway.
set -euo pipefail
PKGS=(dovecot-imapd dovecot-lmtpd python3-aiosmtpd openssl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 -c 'import aiosmtpd' && /usr/sbin/dovecot --version >/dev/null
echo "tests/mail/install.sh: ${PKGS[*]} present"
