#!/bin/sh
# Posts one raw mail (RFC 5322, on stdin) to an Atrium e-mail inbox, signed with the inbox
# secret. For a Postfix pipe(8) transport, procmail, or any MTA that can run a command per mail.
#
#   forward-mail.sh /etc/atrium/support-inbox.env < message.eml
#
# The env file sets ATRIUM_WEBHOOK_URL (https://atrium.example.com/channels/<inbox id>/webhook)
# and ATRIUM_INBOX_SECRET (the chs_… secret shown once when the inbox was created).
# Exit codes follow sysexits(3), which Postfix understands: 0 delivered; 65 (EX_DATAERR) when
# Atrium refuses the mail itself (400 not a mail, 413 too large), so it bounces instead of
# looping; 75 (EX_TEMPFAIL) for everything else (unreachable, 5xx, 429, and 401/404, which are
# a wrong secret or inbox id to fix here), so the mail stays queued and is retried.
set -eu

[ $# -ge 1 ] && . "$1"
: "${ATRIUM_WEBHOOK_URL:?set ATRIUM_WEBHOOK_URL}"
: "${ATRIUM_INBOX_SECRET:?set ATRIUM_INBOX_SECRET}"

body=$(mktemp)
trap 'rm -f "$body"' EXIT
cat >"$body"

timestamp=$(date +%s)
signature=$({ printf '%s.' "$timestamp"; cat "$body"; } |
  openssl dgst -sha256 -hmac "$ATRIUM_INBOX_SECRET" -r | cut -d' ' -f1)

status=$(curl --silent --show-error --output /dev/null --write-out '%{http_code}' \
  --max-time 60 --request POST \
  --header 'content-type: message/rfc822' \
  --header "x-atrium-timestamp: $timestamp" \
  --header "x-atrium-signature: sha256=$signature" \
  --data-binary "@$body" \
  "$ATRIUM_WEBHOOK_URL") || exit 75

case "$status" in
  2??) exit 0 ;;
  400 | 413) echo "atrium refused the mail ($status)" >&2; exit 65 ;;
  *) echo "atrium answered $status, will retry" >&2; exit 75 ;;
esac
