package bitnet

// Environment: BITNET_FIXTURES (default ../shared/fixtures beside the
// repository), BITNET_CLI (default build/tools/bitnet/bitnet). Tests that
// need the fixture are skipped with a message when it is absent.

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

const (
	prompt = "In the beginning God created"
	nGen   = 24
)

func fixture(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BITNET_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures")
	}
	path := filepath.Join(dir, "kjv-bitnet", "kjv-bitnet-4m-i2_s.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixture %s absent (set BITNET_FIXTURES)", path)
	}
	return path
}

func load(t *testing.T) *Model {
	t.Helper()
	m, err := LoadModel(fixture(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func wantStatus(t *testing.T, err error, s Status) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != s || !errors.Is(err, s) {
		t.Fatalf("want status %v, got %v", s, err)
	}
}

func TestParamsMatchTheLibrary(t *testing.T) {
	if DefaultSamplerParams().TopK != 40 || DefaultContextParams().NThreads != 1 || !DefaultModelParams().UseMmap {
		t.Fatal("unexpected defaults")
	}
	v := Version()
	want := strconv.Itoa(int(v/10000)) + "." + strconv.Itoa(int(v/100%100)) + "." + strconv.Itoa(int(v%100))
	if VersionString() != want {
		t.Fatalf("version %d vs %s", v, VersionString())
	}
	if StatusNotFound.String() != "not found" || TypeName(36) != "i2_s" {
		t.Fatal("names")
	}
}

func TestGenerateMatchesCLI(t *testing.T) {
	path := fixture(t)
	cli := os.Getenv("BITNET_CLI")
	if cli == "" {
		cli = filepath.Join("..", "..", "build", "tools", "bitnet", "bitnet")
	}
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("bitnet CLI %s absent (set BITNET_CLI)", cli)
	}
	out, err := exec.Command(cli, "run", "--model", path, "--prompt", prompt, "--temp", "0", "--json",
		"--max-new-tokens", strconv.Itoa(nGen)).Output()
	if err != nil {
		t.Fatalf("CLI: %v", err)
	}
	var want struct {
		PromptTokens []Token `json:"prompt_tokens"`
		Tokens       []Token `json:"tokens"`
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Tokens) != nGen {
		t.Fatalf("CLI gave %d tokens", len(want.Tokens))
	}
	m := load(t)
	toks, err := m.Tokenize(prompt, true)
	if err != nil || !reflect.DeepEqual(toks, want.PromptTokens) {
		t.Fatalf("prompt tokens %v (%v), CLI %v", toks, err, want.PromptTokens)
	}
	ctx, err := NewContext(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	s, err := NewGreedySampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := ctx.Generate(s, toks, nGen)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want.Tokens) {
		t.Fatalf("tokens\n got %v\nwant %v", got, want.Tokens)
	}
	if ctx.NPast() != len(toks)+nGen-1 {
		t.Fatalf("n_past %d", ctx.NPast())
	}
}

func TestErrors(t *testing.T) {
	_, err := LoadModel("/nonexistent/model.gguf", nil)
	wantStatus(t, err, StatusIO)
	if e := err.(*Error); e.Op != "bitnet_model_load_file" || e.Message == "" {
		t.Fatalf("%#v", e)
	}
	_, err = LoadModelMemory([]byte("not a model file at all"), nil)
	wantStatus(t, err, StatusBadFormat)
	_, err = NewSampler(&SamplerParams{Temperature: float32(math.NaN())})
	wantStatus(t, err, StatusInvalidArgument)

	m := load(t)
	_, err = NewContext(m, &ContextParams{NThreads: 0, NBatch: 512})
	wantStatus(t, err, StatusInvalidArgument)
	p := DefaultContextParams()
	p.NCtx = 8
	ctx, err := NewContext(m, &p)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if ctx.Logits() != nil {
		t.Fatal("logits before a decode")
	}
	wantStatus(t, ctx.Decode([]Token{4096}), StatusOutOfRange)
	if err := ctx.Decode([]Token{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ctx.Decode([]Token{1}), StatusContextFull)
	if ctx.NPast() != 8 {
		t.Fatal(ctx.NPast())
	}
	_, err = m.Tokenize("\xff bad", false)
	wantStatus(t, err, StatusInvalidArgument)
}

func TestMetadataAndTensors(t *testing.T) {
	m := load(t)
	if s, err := m.MetaString("general.architecture"); err != nil || s != "bitnet-b1.58" {
		t.Fatal(s, err)
	}
	if n, err := m.MetaUint("bitnet-b1.58.block_count"); err != nil || n != 4 {
		t.Fatal(n, err)
	}
	if v, err := m.Meta("tokenizer.ggml.tokens"); err != nil || len(v.([]interface{})) != 4096 || v.([]interface{})[0] != "Ā" {
		t.Fatal(err)
	}
	if v, err := m.Meta("tokenizer.ggml.add_bos_token"); err != nil || v != true {
		t.Fatal(v, err)
	}
	if typ, _ := m.MetaType("general.alignment"); typ != "uint32" {
		t.Fatal(typ)
	}
	_, err := m.Meta("no.such.key")
	wantStatus(t, err, StatusNotFound)
	_, err = m.MetaString("general.alignment")
	wantStatus(t, err, StatusTypeMismatch)
	keys, err := m.MetaKeys()
	if err != nil || len(keys) != m.MetaCount() || keys[0] != "general.architecture" {
		t.Fatal(keys, err)
	}
	tensors, err := m.Tensors()
	if err != nil || len(tensors) != 46 {
		t.Fatal(len(tensors), err)
	}
	q, err := m.Tensor("blk.0.attn_q.weight")
	if err != nil || q.TypeName != "i2_s" || !reflect.DeepEqual(q.Shape, []int64{256, 256}) || q.NRows != 256 {
		t.Fatalf("%+v %v", q, err)
	}
	_, err = m.Tensor("no.such.tensor")
	wantStatus(t, err, StatusNotFound)
}

func TestTensorRead(t *testing.T) {
	m := load(t)
	name := "blk.0.attn_q.weight"
	rows, err := m.ReadTensorF32(name, 2, 4)
	if err != nil || len(rows) != 512 {
		t.Fatal(len(rows), err)
	}
	scale := float32(0)
	for _, x := range rows {
		scale = float32(math.Max(float64(scale), math.Abs(float64(x))))
	}
	for _, x := range rows {
		if x != 0 && x != scale && x != -scale {
			t.Fatalf("not ternary: %v (scale %v)", x, scale)
		}
	}
	all, err := m.ReadTensorF32(name, 0, 256)
	if err != nil || !reflect.DeepEqual(all[512:1024], rows) {
		t.Fatal("whole read differs from the row read", err)
	}
	buf := make([]byte, 512*2)
	if n, err := m.ReadTensorInto(name, 2, 4, F16, buf); err != nil || n != 1024 {
		t.Fatal(n, err)
	}
	_, err = m.ReadTensorInto(name, 0, 1, F32, make([]byte, 100))
	wantStatus(t, err, StatusBufferTooSmall)
	_, err = m.ReadTensorF32(name, 250, 300)
	wantStatus(t, err, StatusOutOfRange)
	_, err = m.ReadTensorF32("no.such.tensor", 0, 1)
	wantStatus(t, err, StatusNotFound)
}

func TestTokenizer(t *testing.T) {
	m := load(t)
	bos, _ := m.BOS()
	eos, _ := m.EOS()
	if m.VocabSize() != 4096 || bos != 4094 || eos != 4095 || !m.IsEOG(eos) {
		t.Fatal("vocabulary")
	}
	text := "And God said, Let there be light: and there was light."
	toks, err := m.Tokenize(text, true)
	if err != nil || toks[0] != bos {
		t.Fatal(toks, err)
	}
	if back, err := m.Detokenize(toks, false); err != nil || back != text {
		t.Fatalf("%q %v", back, err)
	}
	var pieces []byte
	for _, tok := range toks[1:] {
		p, err := m.TokenToPiece(tok, false)
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, p...)
	}
	if string(pieces) != text {
		t.Fatalf("%q", pieces)
	}
	if _, ok := m.TokenText(1 << 20); ok {
		t.Fatal("token text out of range")
	}
}

func TestSharedModelAndLifetimes(t *testing.T) {
	m, err := LoadModel(fixture(t), &ModelParams{UseMmap: true, CacheBytes: 1 << 20, HeadType: -1})
	if err != nil {
		t.Fatal(err)
	}
	toks, _ := m.Tokenize(prompt, true)
	run := func() []Token {
		ctx, err := NewContext(m, nil)
		if err != nil {
			t.Error(err)
			return nil
		}
		defer ctx.Close()
		s, _ := NewGreedySampler()
		defer s.Close()
		out, err := ctx.Generate(s, toks, 8)
		if err != nil {
			t.Error(err)
		}
		return out
	}
	want := run()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := run(); !reflect.DeepEqual(got, want) {
				t.Errorf("concurrent run %v, want %v", got, want)
			}
		}()
	}
	wg.Wait()

	// A context keeps its model: close the Model first, and let finalizers run.
	ctx, err := NewContext(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	runtime.GC()
	s, _ := NewGreedySampler()
	got, err := ctx.Generate(s, toks, 8)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after Model.Close: %v %v", got, err)
	}
	ctx.Close()
	ctx.Close()
	s.Close()
	// Unclosed handles are freed by finalizers.
	for i := 0; i < 3; i++ {
		m2, _ := LoadModelMemory(mustRead(t, fixture(t)), nil)
		c2, _ := NewContext(m2, nil)
		_ = c2
	}
	runtime.GC()
	runtime.GC()
}

func mustRead(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestStateRoundTrip(t *testing.T) {
	m := load(t)
	toks, _ := m.Tokenize(prompt, true)
	a, _ := NewContext(m, nil)
	defer a.Close()
	b, _ := NewContext(m, nil)
	defer b.Close()
	sp := SamplerParams{Temperature: 0.9, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, PenaltyLastN: 64, Seed: 5}
	sa, _ := NewSampler(&sp)
	defer sa.Close()
	first, err := a.Generate(sa, toks, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Decode(first[len(first)-1:]); err != nil {
		t.Fatal(err)
	}
	state, err := a.StateBytes(sa)
	if err != nil {
		t.Fatal(err)
	}
	sp.Seed = 99
	sb, _ := NewSampler(&sp)
	defer sb.Close()
	if err := b.LoadStateBytes(state, sb); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Tokens(), b.Tokens()) || !reflect.DeepEqual(a.Logits(), b.Logits()) {
		t.Fatal("loaded state differs")
	}
	na, _ := a.Generate(sa, nil, 6)
	nb, _ := b.Generate(sb, nil, 6)
	if !reflect.DeepEqual(na, nb) {
		t.Fatalf("continuations differ: %v %v", na, nb)
	}
	wantStatus(t, b.LoadStateBytes(state[:40], nil), StatusBadFormat)
	file := filepath.Join(t.TempDir(), "ctx.bnstate")
	if err := a.SaveState(file, nil); err != nil {
		t.Fatal(err)
	}
	b.Clear()
	if err := b.LoadState(file, nil); err != nil || b.NPast() != a.NPast() {
		t.Fatal(err)
	}
	wantStatus(t, b.LoadState(file+".missing", nil), StatusIO)
	if err := b.Trim(3); err != nil || !reflect.DeepEqual(b.Tokens(), toks[:3]) {
		t.Fatal(err)
	}
	if mem, err := b.Memory(); err != nil || mem.KVBytes == 0 {
		t.Fatal(mem, err)
	}
}
