package compile

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// jsonWriter writes a template as compact JSON, byte for byte what
// encoding/json writes with HTML escaping off, but without reflection: it
// knows the template's own types and the few value types properties hold,
// and hands anything else to encoding/json. A template is written thousands
// of times when many apps or orbits compile, so this is the compiler's hot
// path.
type jsonWriter struct {
	buf []byte
	// keys holds the sorted keys of the objects being written, innermost
	// last, so that sorting allocates nothing once it has grown.
	keys []string
	err  error
}

// jsonWriters keeps writers, with their grown buffers, between templates.
var jsonWriters = sync.Pool{New: func() any { return new(jsonWriter) }}

func (w *jsonWriter) template(t *Template) {
	w.buf = append(w.buf, `{"AWSTemplateFormatVersion":`...)
	w.string(t.AWSTemplateFormatVersion)
	if t.Description != "" {
		w.buf = append(w.buf, `,"Description":`...)
		w.string(t.Description)
	}
	if len(t.Parameters) > 0 {
		w.buf = append(w.buf, `,"Parameters":`...)
		writeObject(w, t.Parameters, (*jsonWriter).parameter)
	}
	w.buf = append(w.buf, `,"Resources":`...)
	if t.Resources == nil {
		w.buf = append(w.buf, "null"...)
	} else {
		writeObject(w, t.Resources, (*jsonWriter).resource)
	}
	if len(t.Outputs) > 0 {
		w.buf = append(w.buf, `,"Outputs":`...)
		writeObject(w, t.Outputs, (*jsonWriter).output)
	}
	w.buf = append(w.buf, '}')
}

func (w *jsonWriter) parameter(p Parameter) {
	w.buf = append(w.buf, `{"Type":`...)
	w.string(p.Type)
	if p.Description != "" {
		w.buf = append(w.buf, `,"Description":`...)
		w.string(p.Description)
	}
	w.buf = append(w.buf, '}')
}

func (w *jsonWriter) resource(r Resource) {
	w.buf = append(w.buf, `{"Type":`...)
	w.string(r.Type)
	if len(r.DependsOn) > 0 {
		w.buf = append(w.buf, `,"DependsOn":`...)
		w.strings(r.DependsOn)
	}
	if r.DeletionPolicy != "" {
		w.buf = append(w.buf, `,"DeletionPolicy":`...)
		w.string(r.DeletionPolicy)
	}
	if r.UpdateReplacePolicy != "" {
		w.buf = append(w.buf, `,"UpdateReplacePolicy":`...)
		w.string(r.UpdateReplacePolicy)
	}
	if len(r.Properties) > 0 {
		w.buf = append(w.buf, `,"Properties":`...)
		writeObject(w, r.Properties, (*jsonWriter).value)
	}
	w.buf = append(w.buf, '}')
}

func (w *jsonWriter) output(o Output) {
	w.buf = append(w.buf, '{')
	if o.Description != "" {
		w.buf = append(w.buf, `"Description":`...)
		w.string(o.Description)
		w.buf = append(w.buf, ',')
	}
	w.buf = append(w.buf, `"Value":`...)
	w.value(o.Value)
	if o.Export != nil {
		w.buf = append(w.buf, `,"Export":{"Name":`...)
		w.value(o.Export.Name)
		w.buf = append(w.buf, '}')
	}
	w.buf = append(w.buf, '}')
}

// value writes a property value: the types the compiler builds properties
// from, and anything else through encoding/json.
func (w *jsonWriter) value(v any) {
	switch v := v.(type) {
	case nil:
		w.buf = append(w.buf, "null"...)
	case string:
		w.string(v)
	case bool:
		w.buf = strconv.AppendBool(w.buf, v)
	case int:
		w.buf = strconv.AppendInt(w.buf, int64(v), 10)
	case Props:
		if v == nil {
			w.buf = append(w.buf, "null"...)
			return
		}
		writeObject(w, v, (*jsonWriter).value)
	case map[string]string:
		if v == nil {
			w.buf = append(w.buf, "null"...)
			return
		}
		writeObject(w, v, (*jsonWriter).string)
	case []any:
		if v == nil {
			w.buf = append(w.buf, "null"...)
			return
		}
		w.buf = append(w.buf, '[')
		for i, item := range v {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.value(item)
		}
		w.buf = append(w.buf, ']')
	case []string:
		if v == nil {
			w.buf = append(w.buf, "null"...)
			return
		}
		w.strings(v)
	case []Tag:
		if v == nil {
			w.buf = append(w.buf, "null"...)
			return
		}
		w.buf = append(w.buf, '[')
		for i, t := range v {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, `{"Key":`...)
			w.string(t.Key)
			w.buf = append(w.buf, `,"Value":`...)
			w.string(t.Value)
			w.buf = append(w.buf, '}')
		}
		w.buf = append(w.buf, ']')
	default:
		w.other(v)
	}
}

// other writes v through encoding/json, as it would within a template.
func (w *jsonWriter) other(v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		if w.err == nil {
			w.err = err
		}
		w.buf = append(w.buf, "null"...)
		return
	}
	w.buf = append(w.buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

func (w *jsonWriter) strings(s []string) {
	w.buf = append(w.buf, '[')
	for i, item := range s {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.string(item)
	}
	w.buf = append(w.buf, ']')
}

// writeObject writes m as a JSON object with its keys sorted, each value
// written by write.
func writeObject[V any](w *jsonWriter, m map[string]V, write func(*jsonWriter, V)) {
	// Most objects have a few keys: sort them on the stack, where storing
	// them costs no write barrier while the collector runs.
	var small [16]string
	keys := small[:0]
	start := len(w.keys)
	if len(m) > len(small) {
		for k := range m {
			w.keys = append(w.keys, k)
		}
		// Values written below push their own keys after these: the slice
		// may move, but this window of it stays as sorted here.
		keys = w.keys[start:]
	} else {
		for k := range m {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	w.buf = append(w.buf, '{')
	for i, k := range keys {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.string(k)
		w.buf = append(w.buf, ':')
		write(w, m[k])
	}
	w.buf = append(w.buf, '}')
	if len(w.keys) > start {
		clear(w.keys[start:])
		w.keys = w.keys[:start]
	}
}

const hexDigits = "0123456789abcdef"

// jsonSafe tells the ASCII characters a JSON string holds as they are.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := range safe {
		safe[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return safe
}()

// string writes s quoted and escaped as encoding/json does with HTML
// escaping off: quote, backslash and control characters escaped, invalid
// UTF-8 replaced by U+FFFD, and U+2028 and U+2029 escaped for JavaScript.
func (w *jsonWriter) string(s string) {
	b := append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.buf = append(b, '"')
}
