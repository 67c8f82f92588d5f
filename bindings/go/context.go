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

// ContextParams mirrors bitnet_context_params; DefaultContextParams gives
// the library's defaults.
type ContextParams struct {
	NCtx         int32  // KV cache positions; 0 = the model's context length
	NBatch       int32  // most tokens one decode call computes at once
	NThreads     int32  // kernel worker threads, 1..256
	KVType       uint32 // F32 or F16 (type ids)
	LogitsAll    bool   // keep logits of every token of a batch
	Backend      string // kernel backend by name; "" = the best for this CPU
	BlasMinBatch int32
}

// DefaultContextParams is bitnet_context_params_default().
func DefaultContextParams() ContextParams {
	p := C.bitnet_context_params_default()
	return ContextParams{NCtx: int32(p.n_ctx), NBatch: int32(p.n_batch), NThreads: int32(p.n_threads),
		KVType: uint32(p.kv_type), LogitsAll: bool(p.logits_all), BlasMinBatch: int32(p.blas_min_batch)}
}

// Context is a KV cache and scratch for running a model. Not safe for
// concurrent use: one goroutine at a time.
type Context struct {
	p      *C.bitnet_context
	model  *Model // a reference of its own
	nVocab int
}

// NewContext creates a context of m; params nil means the defaults.
func NewContext(m *Model, params *ContextParams) (*Context, error) {
	defer runtime.KeepAlive(m)
	r := C.bitnet_context_params_default()
	if params != nil {
		r.n_ctx = C.int32_t(params.NCtx)
		r.n_batch = C.int32_t(params.NBatch)
		r.n_threads = C.int32_t(params.NThreads)
		r.kv_type = C.uint32_t(params.KVType)
		r.logits_all = C.bool(params.LogitsAll)
		r.blas_min_batch = C.int32_t(params.BlasMinBatch)
		if params.Backend != "" {
			r.backend = C.CString(params.Backend) // needed only while the context is created
			defer C.free(unsafe.Pointer(r.backend))
		}
	}
	var out *C.bitnet_context
	if err := call("bitnet_context_new", func() C.bitnet_status { return C.bitnet_context_new(m.p, &r, &out) }); err != nil {
		return nil, err
	}
	c := &Context{p: out, model: m.Clone(), nVocab: m.VocabSize()}
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// Close frees the context. Safe to call more than once.
func (c *Context) Close() error {
	if c.p != nil {
		C.bitnet_context_free(c.p)
		c.p = nil
		c.model.Close()
	}
	runtime.SetFinalizer(c, nil)
	return nil
}

// Model is the context's model (owned by the context: do not Close it).
func (c *Context) Model() *Model { return c.model }

// Decode appends tokens to the KV cache and computes logits.
func (c *Context) Decode(toks []Token) error {
	defer runtime.KeepAlive(c)
	var p *C.bitnet_token
	if len(toks) > 0 {
		p = (*C.bitnet_token)(unsafe.Pointer(&toks[0]))
	}
	return call("bitnet_context_decode", func() C.bitnet_status {
		return C.bitnet_context_decode(c.p, p, C.int32_t(len(toks)))
	})
}

// Logits is a copy of the last decode's logits for its last token; nil
// before a decode.
func (c *Context) Logits() []float32 { return c.LogitsAt(-1) }

// LogitsAt is a copy of row i of the last decode (-1: its last; other rows
// need LogitsAll); nil when there is no such row.
func (c *Context) LogitsAt(i int) []float32 {
	defer runtime.KeepAlive(c)
	p := C.bitnet_context_logits(c.p, C.int32_t(i))
	if p == nil {
		return nil
	}
	out := make([]float32, c.nVocab)
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nVocab))
	return out
}

// NPast is the number of positions held; NCtx the capacity.
func (c *Context) NPast() int {
	defer runtime.KeepAlive(c)
	return int(C.bitnet_context_n_past(c.p))
}

func (c *Context) NCtx() int {
	defer runtime.KeepAlive(c)
	return int(C.bitnet_context_n_ctx(c.p))
}

// Tokens is a copy of the tokens at positions [0, NPast).
func (c *Context) Tokens() []Token {
	defer runtime.KeepAlive(c)
	var n C.int32_t
	p := C.bitnet_context_tokens(c.p, &n)
	out := make([]Token, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*Token)(unsafe.Pointer(p)), int(n)))
	}
	return out
}

// Clear drops every position.
func (c *Context) Clear() {
	defer runtime.KeepAlive(c)
	C.bitnet_context_clear(c.p)
}

// Trim keeps the first nKeep positions.
func (c *Context) Trim(nKeep int) error {
	defer runtime.KeepAlive(c)
	return call("bitnet_context_trim", func() C.bitnet_status { return C.bitnet_context_trim(c.p, C.int32_t(nKeep)) })
}

// ContextMemory is bitnet_context_memory_info.
type ContextMemory struct{ KVBytes, ScratchBytes, TotalBytes uint64 }

// Memory reports what the context owns.
func (c *Context) Memory() (ContextMemory, error) {
	defer runtime.KeepAlive(c)
	var r C.bitnet_context_memory_info
	r.struct_size = C.size_t(unsafe.Sizeof(r))
	err := call("bitnet_context_memory", func() C.bitnet_status { return C.bitnet_context_memory(c.p, &r) })
	return ContextMemory{uint64(r.kv_bytes), uint64(r.scratch_bytes), uint64(r.total_bytes)}, err
}

// ContextStats is bitnet_context_stats.
type ContextStats struct {
	DecodeCalls, PrefillTokens, DecodeTokens, PrefillNs, DecodeNs    uint64
	CacheHits, CacheMisses, CacheEvictions, PrefetchHits, StateLoads uint64
}

// Stats reports the context's counters.
func (c *Context) Stats() (ContextStats, error) {
	defer runtime.KeepAlive(c)
	var r C.bitnet_context_stats
	r.struct_size = C.size_t(unsafe.Sizeof(r))
	err := call("bitnet_context_stats_get", func() C.bitnet_status { return C.bitnet_context_stats_get(c.p, &r) })
	return ContextStats{uint64(r.n_decode_calls), uint64(r.n_prefill_tokens), uint64(r.n_decode_tokens),
		uint64(r.prefill_ns), uint64(r.decode_ns), uint64(r.cache_hits), uint64(r.cache_misses),
		uint64(r.cache_evictions), uint64(r.prefetch_hits), uint64(r.n_state_loads)}, err
}

// ResetStats zeroes the counters.
func (c *Context) ResetStats() {
	defer runtime.KeepAlive(c)
	C.bitnet_context_stats_reset(c.p)
}

func samplerPtr(s *Sampler) *C.bitnet_sampler {
	if s == nil {
		return nil
	}
	return s.p
}

// SaveState writes positions, KV cache and last logits (and the sampler's
// state when s is not nil) to a file.
func (c *Context) SaveState(path string, s *Sampler) error {
	defer runtime.KeepAlive(c)
	defer runtime.KeepAlive(s)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call("bitnet_context_state_save", func() C.bitnet_status {
		return C.bitnet_context_state_save(c.p, samplerPtr(s), cpath)
	})
}

// LoadState loads a saved state; on failure nothing changes.
func (c *Context) LoadState(path string, s *Sampler) error {
	defer runtime.KeepAlive(c)
	defer runtime.KeepAlive(s)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call("bitnet_context_state_load", func() C.bitnet_status {
		return C.bitnet_context_state_load(c.p, samplerPtr(s), cpath)
	})
}

// StateBytes is the state in the file format.
func (c *Context) StateBytes(s *Sampler) ([]byte, error) {
	defer runtime.KeepAlive(c)
	defer runtime.KeepAlive(s)
	var n C.size_t
	st := C.bitnet_status(C.BITNET_OK)
	err := call("bitnet_context_state_save_memory", func() C.bitnet_status {
		st = C.bitnet_context_state_save_memory(c.p, samplerPtr(s), nil, 0, &n)
		return st
	})
	if st != C.BITNET_ERR_BUFFER_TOO_SMALL {
		return nil, err
	}
	buf := make([]byte, int(n))
	err = call("bitnet_context_state_save_memory", func() C.bitnet_status {
		return C.bitnet_context_state_save_memory(c.p, samplerPtr(s), unsafe.Pointer(&buf[0]), n, &n)
	})
	if err != nil {
		return nil, err
	}
	return buf[:int(n)], nil
}

// LoadStateBytes loads a state from StateBytes; on failure nothing changes.
func (c *Context) LoadStateBytes(data []byte, s *Sampler) error {
	defer runtime.KeepAlive(c)
	defer runtime.KeepAlive(s)
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return call("bitnet_context_state_load_memory", func() C.bitnet_status {
		return C.bitnet_context_state_load_memory(c.p, samplerPtr(s), p, C.size_t(len(data)))
	})
}

// GenerateFunc decodes prompt (empty: continue from the last logits) and
// calls fn with each generated token, up to maxNew, stopping at an
// end-of-generation token unless ignoreEOS, when the context is full, or
// when fn returns false. The loop is `bitnet run`'s: prompt tokens are
// accepted by the sampler; each chosen token is accepted, handed to fn, and
// decoded before the next (the last one is not decoded).
func (c *Context) GenerateFunc(s *Sampler, prompt []Token, maxNew int, ignoreEOS bool, fn func(Token) bool) error {
	defer runtime.KeepAlive(c)
	defer runtime.KeepAlive(s)
	if len(prompt) > 0 {
		if err := c.Decode(prompt); err != nil {
			return err
		}
		for _, t := range prompt {
			if err := s.Accept(t); err != nil {
				return err
			}
		}
	}
	for step := 0; step < maxNew; step++ {
		var t C.bitnet_token
		if err := call("bitnet_sampler_sample", func() C.bitnet_status {
			return C.bitnet_sampler_sample(s.p, C.bitnet_context_logits(c.p, -1), C.int32_t(c.nVocab), &t)
		}); err != nil {
			return err
		}
		tok := Token(t)
		if !ignoreEOS && c.model.IsEOG(tok) {
			return nil
		}
		if err := s.Accept(tok); err != nil {
			return err
		}
		if !fn(tok) || step+1 == maxNew || c.NPast() == c.NCtx() {
			return nil
		}
		if err := c.Decode([]Token{tok}); err != nil {
			return err
		}
	}
	return nil
}

// Generate is GenerateFunc collecting the tokens (stopping at end of generation).
func (c *Context) Generate(s *Sampler, prompt []Token, maxNew int) ([]Token, error) {
	var out []Token
	err := c.GenerateFunc(s, prompt, maxNew, false, func(t Token) bool { out = append(out, t); return true })
	return out, err
}
