#!/bin/sh
# Elevator's bootstrap, run once by cloud-init from an instance's user
# data: it fetches the Elevator agent named below from the orbit's state
# bucket with the instance's role, checks its SHA-256, installs it and
# runs `elevator-agent boot`. Every failure is one line on stderr (the
# console log) starting with elevator-bootstrap:.
set -eu

# The agent builds, one a line: `uname -m`, object key, SHA-256. Compile
# writes them.
builds='
x86_64 agent/none/elevator-agent-linux-amd64 none
aarch64 agent/none/elevator-agent-linux-arm64 none
'
agent=/usr/local/bin/elevator-agent

fail() {
	echo "elevator-bootstrap: $*" >&2
	exit 1
}

# An emulator or a proxy may be named in aws.env.
if [ -f /etc/elevator/aws.env ]; then
	set -a
	# shellcheck disable=SC1091
	. /etc/elevator/aws.env
	set +a
fi
for tool in curl sha256sum sed; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed; the image needs it"
done
# curl signs the S3 request itself (--aws-sigv4); before 7.87 it signs
# neither a given payload hash nor the session token's header, and S3
# refuses the request.
version=$(curl --version | sed -n '1s/^curl \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
major=${version% *}
minor=${version#* }
if [ -z "$version" ] || [ "$major" -lt 7 ] || { [ "$major" -eq 7 ] && [ "$minor" -lt 87 ]; }; then
	fail "curl $major.$minor is too old to fetch the agent (7.87 or later signs S3 requests rightly): use Amazon Linux 2023, Debian 12, Ubuntu 24.04 or later"
fi

imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
imds=${imds%/}
token=$(curl -fsS --retry 5 --retry-connrefused -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "$imds/latest/api/token") ||
	fail "no IMDSv2 token from $imds"
metadata() {
	curl -fsS --retry 5 --retry-connrefused -H "X-aws-ec2-metadata-token: $token" "$imds/latest/$1"
}
# field NAME JSON prints the string value of NAME in JSON (no jq here).
field() {
	printf '%s\n' "$2" | sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1
}

doc=$(metadata dynamic/instance-identity/document) || fail "cannot read the instance identity document"
region=$(field region "$doc")
account=$(field accountId "$doc")
if [ -z "$region" ] || [ -z "$account" ]; then
	fail "no region or account in the instance identity document"
fi
# credentials reads the role's credentials, which early in a boot may not
# be there yet (IMDS answers 404) and which expire: read again before each
# fetch.
credentials() {
	role=$(metadata meta-data/iam/security-credentials/) || return 1
	role=$(printf '%s\n' "$role" | head -n 1)
	creds=$(metadata "meta-data/iam/security-credentials/$role") || return 1
	key_id=$(field AccessKeyId "$creds")
	secret=$(field SecretAccessKey "$creds")
	session=$(field Token "$creds")
	[ -n "$key_id" ] && [ -n "$secret" ]
}

arch=$(uname -m)
build=$(printf '%s\n' "$builds" | grep "^$arch ") || fail "no Elevator agent build for $arch"
key=$(printf '%s\n' "$build" | cut -d ' ' -f 2)
sum=$(printf '%s\n' "$build" | cut -d ' ' -f 3)
bucket="elevator-${account}-${region}-none"
case $region in
cn-*) domain=amazonaws.com.cn ;;
*) domain=amazonaws.com ;;
esac
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
	url="${AWS_ENDPOINT_URL%/}/$bucket/$key"
else
	url="https://$bucket.s3.$region.$domain/$key"
fi

# The credentials go to curl on stdin, not in its arguments. The build
# may not be in the bucket yet (the orbit stack is created before Elevator
# stores it), so a missing object is tried again for ten minutes.
tmp=$(mktemp "$agent.XXXXXX")
trap 'rm -f "$tmp"' EXIT
tries=0
until credentials && printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$key_id" "$secret" "$session" |
	curl -fsS --retry 5 -K - --aws-sigv4 "aws:amz:$region:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o "$tmp" "$url"; do
	tries=$((tries + 1))
	[ "$tries" -lt 60 ] || fail "cannot fetch s3://$bucket/$key with the instance profile's role${role:+ $role}"
	echo "elevator-bootstrap: s3://$bucket/$key is not readable yet; trying again in 10s" >&2
	sleep 10
done
got=$(sha256sum "$tmp" | cut -d ' ' -f 1)
[ "$got" = "$sum" ] || fail "s3://$bucket/$key has SHA-256 $got, want $sum"
chmod 0755 "$tmp"
mv -f "$tmp" "$agent"
trap - EXIT
exec "$agent" boot
