package sentinel

import (
	"encoding/json"
	"math"
	"strconv"
)

// AppendJSON appends f as JSON, byte for byte what encoding/json writes
// for it. Every file a backup reads stores its features in its tree node,
// so this runs once per file: written by hand it costs less than half of
// json.Marshal's reflection (BenchmarkFeaturesJSON).
func (f Features) AppendJSON(b []byte) []byte {
	if !plainName(f.Kind) {
		return appendStd(b, f)
	}
	for _, x := range [...]float32{f.Entropy, f.High, f.Text, f.Chi, f.Stripes} {
		if a := math.Abs(float64(x)); x != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			// Exponent notation (or no JSON at all): leave it to the
			// standard encoder; never happens with rounded features.
			return appendStd(b, f)
		}
	}
	b = append(b, '{')
	if f.Kind != "" {
		b = append(b, `"kind":`...)
		b = append(b, '"')
		b = append(b, f.Kind...)
		b = append(b, '"')
		b = append(b, ',')
	}
	if f.Valid != 0 {
		b = append(b, `"valid":`...)
		b = strconv.AppendInt(b, int64(f.Valid), 10)
		b = append(b, ',')
	}
	b = append(b, `"ent":`...)
	b = strconv.AppendFloat(b, float64(f.Entropy), 'f', -1, 32)
	b = appendFloatField(b, `,"high":`, f.High)
	b = appendFloatField(b, `,"text":`, f.Text)
	b = appendBoolField(b, `,"canary":true`, f.Canary)
	b = appendBoolField(b, `,"note":true`, f.Note)
	b = appendFloatField(b, `,"chi":`, f.Chi)
	if f.Blocks != 0 {
		b = append(b, `,"blk":`...)
		b = strconv.AppendInt(b, int64(f.Blocks), 10)
	}
	b = appendBoolField(b, `,"r0":true`, f.Head)
	b = appendFloatField(b, `,"stp":`, f.Stripes)
	b = appendBoolField(b, `,"b64":true`, f.Encoded)
	return append(b, '}')
}

func appendFloatField(b []byte, key string, x float32) []byte {
	if x == 0 {
		return b
	}
	b = append(b, key...)
	return strconv.AppendFloat(b, float64(x), 'f', -1, 32)
}

func appendBoolField(b []byte, field string, v bool) []byte {
	if v {
		b = append(b, field...)
	}
	return b
}

// plainName reports whether s needs no escaping in JSON (kinds are short
// ASCII names).
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func appendStd(b []byte, f Features) []byte {
	out, err := json.Marshal(f)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}
