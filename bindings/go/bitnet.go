// Package bitnet is a cgo binding of libbitnet: BitNet b1.58 and llama-family
// GGUF models on the CPU.
//
//	m, err := bitnet.LoadModel("model.gguf", nil)
//	if err != nil { ... }
//	defer m.Close()
//	ctx, _ := bitnet.NewContext(m, nil)
//	defer ctx.Close()
//	s, _ := bitnet.NewSampler(&bitnet.SamplerParams{Temperature: 0})
//	defer s.Close()
//	prompt, _ := m.Tokenize("In the beginning", true)
//	toks, err := ctx.Generate(s, prompt, 32)
//
// Handles are freed by Close (idempotent); a finalizer frees what was not
// closed, as a safety net only. Thread safety is the C header's: a Model may
// be used by any number of goroutines at once; a Context or a Sampler by one
// at a time. A Context holds its own reference to its model, so the Model it
// was made from may be closed first. Errors are *Error values carrying the
// status and libbitnet's detail message; errors.Is(err, bitnet.StatusIO)
// tests the status.
package bitnet

/*
#include <stdlib.h>
#include <bitnet/bitnet.h>
*/
import "C"

import (
	"fmt"
	"runtime"
)

// Token is a token id (bitnet_token).
type Token = int32

// TokenNull is BITNET_TOKEN_NULL.
const TokenNull Token = -1

// Status is a bitnet_status value; the values are pinned by the C API.
type Status int

const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1
	StatusIO              Status = 2
	StatusBadFormat       Status = 3
	StatusUnsupported     Status = 4
	StatusOutOfMemory     Status = 5
	StatusOutOfRange      Status = 6
	StatusNotFound        Status = 7
	StatusTypeMismatch    Status = 8
	StatusBufferTooSmall  Status = 9
	StatusContextFull     Status = 10
	StatusAborted         Status = 11
	StatusInternal        Status = 12
	StatusMemoryBudget    Status = 13
)

// String is the library's short text ("bad format").
func (s Status) String() string { return C.GoString(C.bitnet_status_str(C.bitnet_status(s))) }

// Error makes a Status usable as an errors.Is target.
func (s Status) Error() string { return s.String() }

// Error is a failed libbitnet call.
type Error struct {
	Status  Status
	Message string // bitnet_last_error() of the call
	Op      string // the C function
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s: %s", e.Op, e.Status)
	}
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Status, e.Message)
}

// Is reports whether target is this error's Status.
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// call runs one fallible C call and, on failure, reads bitnet_last_error()
// on the same OS thread (it is per thread and goroutines move between them).
func call(op string, f func() C.bitnet_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s := f(); s != C.BITNET_OK {
		return &Error{Status: Status(s), Message: C.GoString(C.bitnet_last_error()), Op: op}
	}
	return nil
}

func newError(s Status, op, msg string) error { return &Error{Status: s, Message: msg, Op: op} }

// Version is the runtime version: major*10000 + minor*100 + patch.
func Version() uint32 { return uint32(C.bitnet_version()) }

// VersionString is "MAJOR.MINOR.PATCH".
func VersionString() string { return C.GoString(C.bitnet_version_string()) }

// TypeName names a tensor type id ("q4_k", "i2_s", "unknown").
func TypeName(t uint32) string { return C.GoString(C.bitnet_type_name(C.uint32_t(t))) }

// Tensor type ids (bitnet_type) that tensors can be read into.
type ReadType int

const (
	F32  ReadType = C.BITNET_TYPE_F32
	F16  ReadType = C.BITNET_TYPE_F16
	BF16 ReadType = C.BITNET_TYPE_BF16
)

// Size is the bytes per element.
func (t ReadType) Size() int {
	if t == F32 {
		return 4
	}
	return 2
}

// Flags of Tokenize / TokenToPiece / Detokenize.
const (
	TokenizeAddSpecial   = uint32(C.BITNET_TOKENIZE_ADD_SPECIAL)
	TokenizeParseSpecial = uint32(C.BITNET_TOKENIZE_PARSE_SPECIAL)
	DetokenizeSpecial    = uint32(C.BITNET_DETOKENIZE_SPECIAL)
)
