package bitnet

/*
#include <stdlib.h>
#include <bitnet/bitnet.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// ModelParams mirrors bitnet_model_params; DefaultModelParams gives the
// library's defaults.
type ModelParams struct {
	UseMmap    bool
	CacheBytes uint64 // dequantized-tensor cache budget; 0 = off
	HeadType   int32  // re-quantize the output head to this type id; -1 = as stored
	Prefetch   bool
}

// DefaultModelParams is bitnet_model_params_default().
func DefaultModelParams() ModelParams {
	p := C.bitnet_model_params_default()
	return ModelParams{UseMmap: bool(p.use_mmap), CacheBytes: uint64(p.cache_bytes), HeadType: int32(p.head_type),
		Prefetch: bool(p.prefetch)}
}

func (p *ModelParams) raw() C.bitnet_model_params {
	r := C.bitnet_model_params_default()
	if p == nil {
		return r
	}
	r.use_mmap = C.bool(p.UseMmap)
	r.cache_bytes = C.uint64_t(p.CacheBytes)
	r.head_type = C.int32_t(p.HeadType)
	r.prefetch = C.bool(p.Prefetch)
	return r
}

// cbuf is C memory that a model loaded with LoadModelMemory reads in place;
// every Model and Context of that model points at it, so it is freed only
// after all of them are gone.
type cbuf struct{ p unsafe.Pointer }

func freeCbuf(b *cbuf) { C.free(b.p) }

// Model is a loaded GGUF model. Safe for concurrent use.
type Model struct {
	p    *C.bitnet_model
	data *cbuf
}

func wrapModel(p *C.bitnet_model, data *cbuf) *Model {
	m := &Model{p: p, data: data}
	runtime.SetFinalizer(m, (*Model).Close)
	return m
}

// LoadModel loads a GGUF file; params nil means the defaults.
func LoadModel(path string, params *ModelParams) (*Model, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	p := params.raw()
	var out *C.bitnet_model
	if err := call("bitnet_model_load_file", func() C.bitnet_status {
		return C.bitnet_model_load_file(cpath, &p, &out)
	}); err != nil {
		return nil, err
	}
	return wrapModel(out, nil), nil
}

// LoadModelMemory loads a model from bytes. They are copied once into C
// memory, which the model then reads in place.
func LoadModelMemory(data []byte, params *ModelParams) (*Model, error) {
	if len(data) == 0 {
		return nil, newError(StatusInvalidArgument, "bitnet_model_load_memory", "no data")
	}
	buf := &cbuf{p: C.CBytes(data)}
	runtime.SetFinalizer(buf, freeCbuf)
	p := params.raw()
	var out *C.bitnet_model
	if err := call("bitnet_model_load_memory", func() C.bitnet_status {
		return C.bitnet_model_load_memory(buf.p, C.size_t(len(data)), &p, &out)
	}); err != nil {
		return nil, err
	}
	return wrapModel(out, buf), nil
}

// Close releases this Model's reference (contexts hold their own). Safe to
// call more than once; the Model must not be in use by other goroutines.
func (m *Model) Close() error {
	if m.p != nil {
		C.bitnet_model_release(m.p)
		m.p = nil
	}
	runtime.SetFinalizer(m, nil)
	return nil
}

// Clone returns a new Model holding another reference to the same model.
func (m *Model) Clone() *Model {
	defer runtime.KeepAlive(m)
	C.bitnet_model_retain(m.p)
	return wrapModel(m.p, m.data)
}

// GGUFVersion is the file's GGUF version (2 or 3).
func (m *Model) GGUFVersion() uint32 {
	defer runtime.KeepAlive(m)
	return uint32(C.bitnet_model_gguf_version(m.p))
}

// LastError is bitnet_model_last_error(): the last failure on this model.
func (m *Model) LastError() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer runtime.KeepAlive(m)
	return C.GoString(C.bitnet_model_last_error(m.p))
}

// ---- metadata ----

// MetaCount is the number of metadata keys.
func (m *Model) MetaCount() int {
	defer runtime.KeepAlive(m)
	return int(C.bitnet_model_meta_count(m.p))
}

// MetaKeys lists the metadata keys in file order.
func (m *Model) MetaKeys() ([]string, error) {
	defer runtime.KeepAlive(m)
	n := m.MetaCount()
	keys := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var k *C.char
		if err := call("bitnet_model_meta_at", func() C.bitnet_status {
			return C.bitnet_model_meta_at(m.p, C.int64_t(i), &k, nil)
		}); err != nil {
			return nil, err
		}
		keys = append(keys, C.GoString(k))
	}
	return keys, nil
}

func (m *Model) metaValue(key string) (*C.bitnet_value, error) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var v *C.bitnet_value
	err := call("bitnet_model_meta_get", func() C.bitnet_status { return C.bitnet_model_meta_get(m.p, ckey, &v) })
	return v, err
}

// Meta is the value of a metadata key as a Go value: int64, uint64,
// float64, bool, string, or []interface{} for arrays. Missing keys give
// StatusNotFound.
func (m *Model) Meta(key string) (interface{}, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return nil, err
	}
	return goValue(v)
}

// MetaType names the type of a key's value ("uint32", "string", "array").
func (m *Model) MetaType(key string) (string, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return "", err
	}
	return C.GoString(C.bitnet_value_type_name(C.uint32_t(C.bitnet_value_get_type(v)))), nil
}

// MetaString reads a string value.
func (m *Model) MetaString(key string) (string, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return "", err
	}
	var s *C.char
	var n C.size_t
	err = call("bitnet_value_string", func() C.bitnet_status { return C.bitnet_value_string(v, &s, &n) })
	if err != nil {
		return "", err
	}
	return C.GoStringN(s, C.int(n)), nil
}

// MetaInt reads an integer value as int64 (OUT_OF_RANGE if it does not fit).
func (m *Model) MetaInt(key string) (int64, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return 0, err
	}
	var out C.int64_t
	err = call("bitnet_value_int", func() C.bitnet_status { return C.bitnet_value_int(v, &out) })
	return int64(out), err
}

// MetaUint reads an integer value as uint64.
func (m *Model) MetaUint(key string) (uint64, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return 0, err
	}
	var out C.uint64_t
	err = call("bitnet_value_uint", func() C.bitnet_status { return C.bitnet_value_uint(v, &out) })
	return uint64(out), err
}

// MetaFloat reads a float32/float64 value.
func (m *Model) MetaFloat(key string) (float64, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return 0, err
	}
	var out C.double
	err = call("bitnet_value_float", func() C.bitnet_status { return C.bitnet_value_float(v, &out) })
	return float64(out), err
}

// MetaBool reads a bool value.
func (m *Model) MetaBool(key string) (bool, error) {
	defer runtime.KeepAlive(m)
	v, err := m.metaValue(key)
	if err != nil {
		return false, err
	}
	var out C.bool
	err = call("bitnet_value_bool", func() C.bitnet_status { return C.bitnet_value_bool(v, &out) })
	return bool(out), err
}

func valueKind(t C.bitnet_value_type) byte {
	switch t {
	case C.BITNET_VALUE_UINT8, C.BITNET_VALUE_UINT16, C.BITNET_VALUE_UINT32, C.BITNET_VALUE_UINT64:
		return 'u'
	case C.BITNET_VALUE_INT8, C.BITNET_VALUE_INT16, C.BITNET_VALUE_INT32, C.BITNET_VALUE_INT64:
		return 'i'
	case C.BITNET_VALUE_FLOAT32, C.BITNET_VALUE_FLOAT64:
		return 'f'
	case C.BITNET_VALUE_BOOL:
		return 'b'
	case C.BITNET_VALUE_STRING:
		return 's'
	case C.BITNET_VALUE_ARRAY:
		return 'a'
	}
	return '?'
}

func goValue(v *C.bitnet_value) (interface{}, error) {
	var out interface{}
	err := call("bitnet_value", func() C.bitnet_status {
		var s C.bitnet_status
		switch valueKind(C.bitnet_value_get_type(v)) {
		case 'u':
			var x C.uint64_t
			s, out = C.bitnet_value_uint(v, &x), uint64(x)
		case 'i':
			var x C.int64_t
			s, out = C.bitnet_value_int(v, &x), int64(x)
		case 'f':
			var x C.double
			s, out = C.bitnet_value_float(v, &x), float64(x)
		case 'b':
			var x C.bool
			s, out = C.bitnet_value_bool(v, &x), bool(x)
		case 's':
			var p *C.char
			var n C.size_t
			if s = C.bitnet_value_string(v, &p, &n); s == C.BITNET_OK {
				out = C.GoStringN(p, C.int(n))
			}
		case 'a':
			return C.BITNET_OK
		default:
			return C.BITNET_ERR_UNSUPPORTED
		}
		return s
	})
	if err != nil || out != nil {
		return out, err
	}
	return goArray(v)
}

func goArray(v *C.bitnet_value) (interface{}, error) {
	var elem C.bitnet_value_type
	var n C.uint64_t
	if err := call("bitnet_value_array_info", func() C.bitnet_status {
		return C.bitnet_value_array_info(v, &elem, &n)
	}); err != nil {
		return nil, err
	}
	kind := valueKind(elem)
	out := make([]interface{}, 0, int(n))
	for i := C.uint64_t(0); i < n; i++ {
		var x interface{}
		var inner *C.bitnet_value
		err := call("bitnet_value_array", func() C.bitnet_status {
			var s C.bitnet_status
			switch kind {
			case 'u':
				var y C.uint64_t
				s, x = C.bitnet_value_array_uint(v, i, &y), uint64(y)
			case 'i':
				var y C.int64_t
				s, x = C.bitnet_value_array_int(v, i, &y), int64(y)
			case 'f':
				var y C.double
				s, x = C.bitnet_value_array_float(v, i, &y), float64(y)
			case 'b':
				var y C.bool
				s, x = C.bitnet_value_array_bool(v, i, &y), bool(y)
			case 's':
				var p *C.char
				var l C.size_t
				if s = C.bitnet_value_array_string(v, i, &p, &l); s == C.BITNET_OK {
					x = C.GoStringN(p, C.int(l))
				}
			case 'a':
				s = C.bitnet_value_array_array(v, i, &inner)
			default:
				s = C.BITNET_ERR_UNSUPPORTED
			}
			return s
		})
		if err == nil && kind == 'a' {
			x, err = goArray(inner)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// ---- tensors ----

// TensorInfo describes a tensor as stored; Shape[0] is the row length.
type TensorInfo struct {
	Name      string
	Type      uint32
	TypeName  string
	Shape     []int64
	NElements int64
	NRows     int64
	NBytes    uint64
	Offset    uint64
}

func tensorInfo(r *C.bitnet_tensor_info) TensorInfo {
	shape := make([]int64, int(r.n_dims))
	for i := range shape {
		shape[i] = int64(r.ne[i])
	}
	return TensorInfo{Name: C.GoString(r.name), Type: uint32(r._type), TypeName: C.GoString(r.type_name),
		Shape: shape, NElements: int64(r.n_elements), NRows: int64(r.n_rows), NBytes: uint64(r.n_bytes),
		Offset: uint64(r.offset)}
}

// TensorCount is the number of tensors.
func (m *Model) TensorCount() int {
	defer runtime.KeepAlive(m)
	return int(C.bitnet_model_tensor_count(m.p))
}

// Tensors lists every tensor in file order.
func (m *Model) Tensors() ([]TensorInfo, error) {
	defer runtime.KeepAlive(m)
	n := m.TensorCount()
	out := make([]TensorInfo, 0, n)
	for i := 0; i < n; i++ {
		var r C.bitnet_tensor_info
		r.struct_size = C.size_t(unsafe.Sizeof(r))
		if err := call("bitnet_model_tensor_info", func() C.bitnet_status {
			return C.bitnet_model_tensor_info(m.p, C.int64_t(i), &r)
		}); err != nil {
			return nil, err
		}
		out = append(out, tensorInfo(&r))
	}
	return out, nil
}

// Tensor describes one tensor by name (StatusNotFound if absent).
func (m *Model) Tensor(name string) (TensorInfo, error) {
	defer runtime.KeepAlive(m)
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var r C.bitnet_tensor_info
	r.struct_size = C.size_t(unsafe.Sizeof(r))
	if err := call("bitnet_model_tensor_info_by_name", func() C.bitnet_status {
		return C.bitnet_model_tensor_info_by_name(m.p, cname, &r)
	}); err != nil {
		return TensorInfo{}, err
	}
	return tensorInfo(&r), nil
}

// ReadTensorInto dequantizes rows [begin, end) of a tensor into dst as typ
// and returns the bytes written. A short dst gives StatusBufferTooSmall and
// writes nothing. Safe for concurrent use.
func (m *Model) ReadTensorInto(name string, begin, end int64, typ ReadType, dst []byte) (int, error) {
	defer runtime.KeepAlive(m)
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p unsafe.Pointer
	if len(dst) > 0 {
		p = unsafe.Pointer(&dst[0])
	}
	var written C.size_t
	err := call("bitnet_model_tensor_read", func() C.bitnet_status {
		return C.bitnet_model_tensor_read(m.p, cname, C.int64_t(begin), C.int64_t(end), C.bitnet_type(typ), p,
			C.size_t(len(dst)), &written)
	})
	return int(written), err
}

// ReadTensorF32 returns rows [begin, end) of a tensor as float32 values.
func (m *Model) ReadTensorF32(name string, begin, end int64) ([]float32, error) {
	info, err := m.Tensor(name)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	if end > begin {
		n = (end - begin) * info.Shape[0]
	}
	out := make([]float32, n)
	var dst []byte
	if n > 0 {
		dst = unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*n)
	}
	written, err := m.ReadTensorInto(name, begin, end, F32, dst)
	if err != nil {
		return nil, err
	}
	return out[:written/4], nil
}

// StoreStats is bitnet_store_stats.
type StoreStats struct {
	Hits, Misses, Evictions, BytesResident, BytesBudget, BytesMapped, Entries uint64
	PrefetchIssued, PrefetchHits, BytesPeak                                   uint64
}

// StoreStats reports the weight store's cache counters.
func (m *Model) StoreStats() (StoreStats, error) {
	defer runtime.KeepAlive(m)
	var r C.bitnet_store_stats
	r.struct_size = C.size_t(unsafe.Sizeof(r))
	err := call("bitnet_model_store_stats", func() C.bitnet_status { return C.bitnet_model_store_stats(m.p, &r) })
	return StoreStats{uint64(r.hits), uint64(r.misses), uint64(r.evictions), uint64(r.bytes_resident),
		uint64(r.bytes_budget), uint64(r.bytes_mapped), uint64(r.entries), uint64(r.prefetch_issued),
		uint64(r.prefetch_hits), uint64(r.bytes_peak)}, err
}

// ---- vocabulary and tokenizer ----

// VocabSize is the number of tokens (0 without tokenizer metadata).
func (m *Model) VocabSize() int {
	defer runtime.KeepAlive(m)
	return int(C.bitnet_vocab_size(m.p))
}

// BOS is the beginning-of-sequence token; ok is false when there is none.
func (m *Model) BOS() (t Token, ok bool) {
	defer runtime.KeepAlive(m)
	t = Token(C.bitnet_token_bos(m.p))
	return t, t != TokenNull
}

// EOS is the end-of-sequence token; ok is false when there is none.
func (m *Model) EOS() (t Token, ok bool) {
	defer runtime.KeepAlive(m)
	t = Token(C.bitnet_token_eos(m.p))
	return t, t != TokenNull
}

// IsEOG reports whether a token ends generation.
func (m *Model) IsEOG(t Token) bool {
	defer runtime.KeepAlive(m)
	return bool(C.bitnet_token_is_eog(m.p, C.bitnet_token(t)))
}

// TokenText is the vocabulary entry as stored; ok is false out of range.
func (m *Model) TokenText(t Token) (text string, ok bool) {
	defer runtime.KeepAlive(m)
	p := C.bitnet_token_text(m.p, C.bitnet_token(t))
	if p == nil {
		return "", false
	}
	return C.GoString(p), true
}

// Tokenize turns text into tokens; addSpecial adds BOS/EOS as the model asks.
func (m *Model) Tokenize(text string, addSpecial bool) ([]Token, error) {
	flags := uint32(0)
	if addSpecial {
		flags = TokenizeAddSpecial
	}
	return m.TokenizeFlags([]byte(text), flags)
}

// TokenizeFlags tokenizes UTF-8 bytes with Tokenize* flags.
func (m *Model) TokenizeFlags(text []byte, flags uint32) ([]Token, error) {
	defer runtime.KeepAlive(m)
	ctext := C.CBytes(text) // C memory: no Go pointer rules to mind, and never NULL
	defer C.free(ctext)
	toks := make([]Token, len(text)+4) // one per byte at most, plus specials
	for {
		var n C.size_t
		s := C.bitnet_status(C.BITNET_OK)
		err := call("bitnet_tokenize", func() C.bitnet_status {
			s = C.bitnet_tokenize(m.p, (*C.char)(ctext), C.size_t(len(text)), C.uint32_t(flags),
				(*C.bitnet_token)(unsafe.Pointer(&toks[0])), C.size_t(len(toks)), &n)
			return s
		})
		if s == C.BITNET_ERR_BUFFER_TOO_SMALL && int(n) > len(toks) {
			toks = make([]Token, int(n))
			continue
		}
		if err != nil {
			return nil, err
		}
		return toks[:int(n)], nil
	}
}

// twoCall runs a C function with the two-call size pattern.
func twoCall(op string, f func(buf *C.char, capacity C.size_t, n *C.size_t) C.bitnet_status) ([]byte, error) {
	var n C.size_t
	s := C.bitnet_status(C.BITNET_OK)
	err := call(op, func() C.bitnet_status { s = f(nil, 0, &n); return s })
	if s == C.BITNET_OK {
		return []byte{}, nil
	}
	if s != C.BITNET_ERR_BUFFER_TOO_SMALL {
		return nil, err
	}
	buf := make([]byte, int(n))
	if err := call(op, func() C.bitnet_status { return f((*C.char)(unsafe.Pointer(&buf[0])), n, &n) }); err != nil {
		return nil, err
	}
	return buf[:int(n)], nil
}

// TokenToPiece is the bytes a token stands for; special renders control tokens.
func (m *Model) TokenToPiece(t Token, special bool) ([]byte, error) {
	defer runtime.KeepAlive(m)
	flags := C.uint32_t(0)
	if special {
		flags = C.BITNET_DETOKENIZE_SPECIAL
	}
	return twoCall("bitnet_token_to_piece", func(buf *C.char, capacity C.size_t, n *C.size_t) C.bitnet_status {
		return C.bitnet_token_to_piece(m.p, C.bitnet_token(t), flags, buf, capacity, n)
	})
}

// Detokenize turns tokens back into text.
func (m *Model) Detokenize(toks []Token, special bool) (string, error) {
	defer runtime.KeepAlive(m)
	flags := C.uint32_t(0)
	if special {
		flags = C.BITNET_DETOKENIZE_SPECIAL
	}
	var p *C.bitnet_token
	if len(toks) > 0 {
		p = (*C.bitnet_token)(unsafe.Pointer(&toks[0]))
	}
	b, err := twoCall("bitnet_detokenize", func(buf *C.char, capacity C.size_t, n *C.size_t) C.bitnet_status {
		return C.bitnet_detokenize(m.p, p, C.size_t(len(toks)), flags, buf, capacity, n)
	})
	return string(b), err
}
