package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// camel turns a name such as "db-internal" or "alice@example.com" into a
// logical ID part such as "DbInternal" or "AliceExampleCom": the runs of
// letters and digits, each with its first letter upper-cased.
func camel(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	upper := true
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
			b.WriteRune(c)
			upper = false
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}

// zoneSuffixes names each zone in logical IDs: the zone's letter upper-cased
// ("us-east-1a" -> "A") when every zone ends in a distinct letter, else its
// position ("Az1", "Az2", ...). Letters keep IDs stable when zones are added
// or removed; positions are the fallback for zone names such as local zones
// that would collide.
func zoneSuffixes(azs []string) []string {
	out := make([]string, len(azs))
	seen := make(map[byte]bool, len(azs))
	letters := true
	for i, az := range azs {
		if az == "" || az[len(az)-1] < 'a' || az[len(az)-1] > 'z' || seen[az[len(az)-1]] {
			letters = false
			break
		}
		c := az[len(az)-1]
		seen[c] = true
		out[i] = string(rune(c - 'a' + 'A'))
	}
	if !letters {
		for i := range azs {
			out[i] = "Az" + strconv.Itoa(i+1)
		}
	}
	return out
}

// shortHash is 8 hex digits of s's SHA-256: a stable, short disambiguator.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}
