package access

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"golang.org/x/crypto/ssh"
)

// Key is one OpenSSH public key, as an authorized_keys line holds it.
type Key struct {
	// Line is what the users table stores: type, base64 key and comment,
	// as sshd reads it from AuthorizedKeysCommand.
	Line        string
	Type        string // ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...
	Fingerprint string // SHA256:..., as ssh-keygen -l prints it
	Comment     string
}

// minRSABits is the smallest RSA key accepted: OpenSSH itself refuses
// shorter ones since 8.9 (RequiredRSASize).
const minRSABits = 2048

// ParseKey reads one public key in the authorized_keys format (type,
// base64 key, optional comment). Options before the key (command=...,
// from=...) are refused: what a key may do is Elevator's to say, on the
// instance. Errors say what is wrong and are plain (not *elevator.Error).
func ParseKey(line string) (Key, error) {
	line = strings.TrimSpace(line)
	if strings.Contains(line, "PRIVATE KEY") {
		return Key{}, errPrivate
	}
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return Key{}, fmt.Errorf("not an OpenSSH public key (want a line such as \"ssh-ed25519 AAAAC3... you@host\"): %w", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return Key{}, errors.New("more than one key on a line")
	}
	if len(options) > 0 {
		return Key{}, fmt.Errorf("options before the key (%s) are not allowed: give the key alone", strings.Join(options, ","))
	}
	if pub.Type() == ssh.KeyAlgoDSA {
		return Key{}, errors.New("a DSA (ssh-dss) key: OpenSSH no longer accepts them; use ssh-ed25519")
	}
	if ck, ok := pub.(ssh.CryptoPublicKey); ok {
		if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
			return Key{}, fmt.Errorf("an RSA key of %d bits: want at least %d (or use ssh-ed25519)", rk.N.BitLen(), minRSABits)
		}
	}
	k := Key{Type: pub.Type(), Fingerprint: ssh.FingerprintSHA256(pub), Comment: comment}
	k.Line = strings.TrimSpace(strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n") + " " + comment)
	return k, nil
}

var errPrivate = errors.New("this is a private key: give the public key (the .pub file, such as ~/.ssh/id_ed25519.pub), never the private one")

// ParseKeys reads the public keys of a file: one key per line; blank
// lines and lines starting with # are skipped. It returns an EINVALID
// error naming the file and line of the first bad one, or saying the file
// holds no key, or that it is a private key.
func ParseKeys(file string, data []byte) ([]Key, error) {
	if _, err := ssh.ParseRawPrivateKey(data); err == nil || isPassphraseMissing(err) || bytes.Contains(data, []byte("PRIVATE KEY")) {
		return nil, elevator.Errorf(elevator.EINVALID, "--key %s: %v", file, errPrivate)
	}
	var keys []Key
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseKey(line)
		if err != nil {
			return nil, elevator.Errorf(elevator.EINVALID, "--key %s:%d: %v", file, n, err)
		}
		if !seen[k.Fingerprint] {
			seen[k.Fingerprint] = true
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "--key %s: %v", file, err)
	}
	if len(keys) == 0 {
		return nil, elevator.Errorf(elevator.EINVALID, "--key %s: no public key in the file (want one OpenSSH public key per line, such as \"ssh-ed25519 AAAAC3... you@host\")", file)
	}
	return keys, nil
}

func isPassphraseMissing(err error) bool {
	var pm *ssh.PassphraseMissingError
	return errors.As(err, &pm)
}
