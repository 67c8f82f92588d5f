package bitnet

/*
#include <bitnet/bitnet.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// SamplerParams mirrors bitnet_sampler_params; DefaultSamplerParams gives
// the library's defaults (temperature 0.8). Temperature 0 is greedy.
type SamplerParams struct {
	Temperature      float32
	TopK             int32
	TopP             float32
	MinP             float32
	RepeatPenalty    float32
	FrequencyPenalty float32
	PresencePenalty  float32
	PenaltyLastN     int32
	Seed             uint64
}

// DefaultSamplerParams is bitnet_sampler_params_default().
func DefaultSamplerParams() SamplerParams {
	p := C.bitnet_sampler_params_default()
	return SamplerParams{Temperature: float32(p.temperature), TopK: int32(p.top_k), TopP: float32(p.top_p),
		MinP: float32(p.min_p), RepeatPenalty: float32(p.repeat_penalty),
		FrequencyPenalty: float32(p.frequency_penalty), PresencePenalty: float32(p.presence_penalty),
		PenaltyLastN: int32(p.penalty_last_n), Seed: uint64(p.seed)}
}

// Sampler is the sampling chain. Not safe for concurrent use.
type Sampler struct {
	p *C.bitnet_sampler
}

// NewSampler creates a sampler; params nil means the defaults.
func NewSampler(params *SamplerParams) (*Sampler, error) {
	r := C.bitnet_sampler_params_default()
	if params != nil {
		r.temperature = C.float(params.Temperature)
		r.top_k = C.int32_t(params.TopK)
		r.top_p = C.float(params.TopP)
		r.min_p = C.float(params.MinP)
		r.repeat_penalty = C.float(params.RepeatPenalty)
		r.frequency_penalty = C.float(params.FrequencyPenalty)
		r.presence_penalty = C.float(params.PresencePenalty)
		r.penalty_last_n = C.int32_t(params.PenaltyLastN)
		r.seed = C.uint64_t(params.Seed)
	}
	var out *C.bitnet_sampler
	if err := call("bitnet_sampler_new", func() C.bitnet_status { return C.bitnet_sampler_new(&r, &out) }); err != nil {
		return nil, err
	}
	s := &Sampler{p: out}
	runtime.SetFinalizer(s, (*Sampler).Close)
	return s, nil
}

// NewGreedySampler is a sampler that takes the most likely token.
func NewGreedySampler() (*Sampler, error) {
	p := DefaultSamplerParams()
	p.Temperature = 0
	return NewSampler(&p)
}

// Close frees the sampler. Safe to call more than once.
func (s *Sampler) Close() error {
	if s.p != nil {
		C.bitnet_sampler_free(s.p)
		s.p = nil
	}
	runtime.SetFinalizer(s, nil)
	return nil
}

// Sample chooses a token from n_vocab logits.
func (s *Sampler) Sample(logits []float32) (Token, error) {
	defer runtime.KeepAlive(s)
	var p *C.float
	if len(logits) > 0 {
		p = (*C.float)(unsafe.Pointer(&logits[0]))
	}
	var t C.bitnet_token
	err := call("bitnet_sampler_sample", func() C.bitnet_status {
		return C.bitnet_sampler_sample(s.p, p, C.int32_t(len(logits)), &t)
	})
	return Token(t), err
}

// Accept records a token (prompt or generated) for the penalties.
func (s *Sampler) Accept(t Token) error {
	defer runtime.KeepAlive(s)
	return call("bitnet_sampler_accept", func() C.bitnet_status { return C.bitnet_sampler_accept(s.p, C.bitnet_token(t)) })
}

// Reset forgets the history and restarts the random stream from the seed.
func (s *Sampler) Reset() {
	defer runtime.KeepAlive(s)
	C.bitnet_sampler_reset(s.p)
}
