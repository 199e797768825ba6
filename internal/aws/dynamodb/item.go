package dynamodb

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is a DynamoDB item (or key): attribute names to Go values. The
// values map to DynamoDB attribute types so:
//
//	string                         S     string
//	bool                           BOOL  bool
//	int, int8 ... int64,           N     int64 when the number is whole and
//	  uint ... uint64, float32,            fits, else float64
//	  float64
//	[]string (not empty)           SS    []string, sorted (a set has no order)
//	[]byte                         B     []byte
//	[]any                          L     []any
//	map[string]any                 M     map[string]any
//	nil                            NULL  nil
//
// The left column is what writes accept, the right what reads return.
// Anything else (a time.Time, a struct, an empty []string, NaN) is refused
// with an EINVALID error: store times as Unix seconds, which is also what
// DynamoDB's time-to-live needs.
type Item map[string]any

func marshal(item Item) (map[string]ddbtypes.AttributeValue, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]ddbtypes.AttributeValue, len(item))
	for k, v := range item {
		av, err := attribute(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func attribute(v any) (ddbtypes.AttributeValue, error) {
	switch v := v.(type) {
	case nil:
		return &ddbtypes.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &ddbtypes.AttributeValueMemberS{Value: v}, nil
	case bool:
		return &ddbtypes.AttributeValueMemberBOOL{Value: v}, nil
	case []string:
		if len(v) == 0 {
			return nil, fmt.Errorf("an empty string set: DynamoDB has no empty sets")
		}
		return &ddbtypes.AttributeValueMemberSS{Value: append([]string(nil), v...)}, nil
	case []byte:
		return &ddbtypes.AttributeValueMemberB{Value: v}, nil
	case []any:
		l := make([]ddbtypes.AttributeValue, len(v))
		for i, e := range v {
			av, err := attribute(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			l[i] = av
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}, nil
	case map[string]any:
		m, err := marshal(v)
		if err != nil {
			return nil, err
		}
		return &ddbtypes.AttributeValueMemberM{Value: m}, nil
	case Item:
		return attribute(map[string]any(v))
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(rv.Int(), 10)}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatUint(rv.Uint(), 10)}, nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a number DynamoDB stores", f)
		}
		return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'g', -1, 64)}, nil
	}
	return nil, fmt.Errorf("a %T, which Elevator does not store in DynamoDB", v)
}

func unmarshal(m map[string]ddbtypes.AttributeValue) (Item, error) {
	if m == nil {
		return nil, nil
	}
	item := make(Item, len(m))
	for k, av := range m {
		v, err := value(av)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		item[k] = v
	}
	return item, nil
}

func value(av ddbtypes.AttributeValue) (any, error) {
	switch av := av.(type) {
	case *ddbtypes.AttributeValueMemberNULL:
		return nil, nil
	case *ddbtypes.AttributeValueMemberS:
		return av.Value, nil
	case *ddbtypes.AttributeValueMemberBOOL:
		return av.Value, nil
	case *ddbtypes.AttributeValueMemberN:
		if i, err := strconv.ParseInt(av.Value, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(av.Value, 64)
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", av.Value, err)
		}
		return f, nil
	case *ddbtypes.AttributeValueMemberSS:
		ss := append([]string(nil), av.Value...)
		sort.Strings(ss)
		return ss, nil
	case *ddbtypes.AttributeValueMemberB:
		return av.Value, nil
	case *ddbtypes.AttributeValueMemberL:
		l := make([]any, len(av.Value))
		for i, e := range av.Value {
			v, err := value(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			l[i] = v
		}
		return l, nil
	case *ddbtypes.AttributeValueMemberM:
		m, err := unmarshal(av.Value)
		return map[string]any(m), err
	}
	return nil, fmt.Errorf("a %T attribute, which Elevator does not read", av)
}

// Strings reads an attribute written as a string set, a list of strings or
// one string (tables filled by hand, such as spacel's SSH tables, hold any
// of them) as a list of strings; other values read as none.
func Strings(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
