"""Tests of the Python binding: /usr/bin/python3 -m unittest discover -s bindings/python/tests

Environment: BITNET_LIBRARY (libbitnet.so or its folder; default the
repository's build/lib), BITNET_FIXTURES (default ../shared/fixtures next to
the repository), BITNET_CLI (default build/tools/bitnet/bitnet).
"""

import array
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))

import bitnet  # noqa: E402

try:
    import numpy
except ImportError:
    numpy = None

FIXTURES = os.environ.get("BITNET_FIXTURES") or os.path.join(ROOT, "..", "shared", "fixtures")
MODEL = os.path.join(FIXTURES, "kjv-bitnet", "kjv-bitnet-4m-i2_s.gguf")
CLI = os.environ.get("BITNET_CLI") or os.path.join(ROOT, "build", "tools", "bitnet", "bitnet")
PROMPT = "In the beginning God created"
N_GEN = 24


class Library(unittest.TestCase):
    def test_version(self):
        v = bitnet.version()
        self.assertEqual(bitnet.version_string(), "%d.%d.%d" % (v // 10000, v // 100 % 100, v % 100))

    def test_params_match_the_library(self):
        import ctypes
        for cls in (bitnet.ModelParams, bitnet.ContextParams, bitnet.SamplerParams):
            self.assertEqual(cls.default().struct_size, ctypes.sizeof(cls))
        self.assertEqual(bitnet.SamplerParams.default().top_k, 40)

    def test_status_and_type_names(self):
        self.assertEqual(bitnet.status_str(bitnet.Status.NOT_FOUND), "not found")
        self.assertEqual(bitnet.type_name(bitnet.Type.I2_S), "i2_s")

    def test_missing_file(self):
        with self.assertRaises(bitnet.BitnetError) as cm:
            bitnet.Model("/nonexistent/model.gguf")
        self.assertEqual(cm.exception.status, bitnet.Status.IO)
        self.assertIn("/nonexistent/model.gguf", cm.exception.message)
        self.assertIn("bitnet_model_load_file", str(cm.exception))

    def test_not_a_gguf(self):
        with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
            f.write(b"this is not a model file at all")
            f.flush()
            with self.assertRaises(bitnet.BitnetError) as cm:
                bitnet.Model(f.name)
        self.assertEqual(cm.exception.status, bitnet.Status.BAD_FORMAT)
        with self.assertRaises(bitnet.BitnetError) as cm:
            bitnet.Model.from_bytes(b"GGUF")
        self.assertEqual(cm.exception.status, bitnet.Status.BAD_FORMAT)

    def test_bad_sampler_argument(self):
        with self.assertRaises(TypeError):
            bitnet.Sampler(no_such_field=1)


@unittest.skipUnless(os.path.exists(MODEL), "fixture %s absent (set BITNET_FIXTURES)" % MODEL)
class WithModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = bitnet.Model(MODEL)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_metadata(self):
        md = self.model.metadata
        self.assertEqual(md["general.architecture"], "bitnet-b1.58")
        self.assertEqual(md["bitnet-b1.58.block_count"], 4)
        self.assertIsInstance(md["bitnet-b1.58.rope.freq_base"], float)
        self.assertIs(md["tokenizer.ggml.add_bos_token"], True)
        self.assertEqual(len(md["tokenizer.ggml.tokens"]), 4096)
        self.assertEqual(md.type_name("tokenizer.ggml.tokens"), "array")
        self.assertEqual(len(md), len(list(md)))
        self.assertIn("general.alignment", md)
        self.assertNotIn("no.such.key", md)
        with self.assertRaises(KeyError):
            md["no.such.key"]
        self.assertEqual(self.model.gguf_version, 3)

    def test_tensors(self):
        tensors = self.model.tensors
        self.assertEqual(len(tensors), 46)
        q = self.model.tensor("blk.0.attn_q.weight")
        self.assertIn(q, tensors)
        self.assertEqual((q.type, q.type_name, q.shape, q.n_rows), (bitnet.Type.I2_S, "i2_s", (256, 256), 256))
        with self.assertRaises(bitnet.BitnetError) as cm:
            self.model.tensor("no.such.tensor")
        self.assertEqual(cm.exception.status, bitnet.Status.NOT_FOUND)

    def test_tensor_read(self):
        name = "blk.0.attn_q.weight"
        rows = self.model.read_tensor(name, rows=(2, 4))
        self.assertEqual((rows.format, len(rows)), ("f", 512))
        # Ternary weights: every value is 0 or +-scale.
        self.assertLessEqual(len({abs(x) for x in rows}), 2)
        whole = self.model.read_tensor(name)
        self.assertEqual(len(whole), 256 * 256)
        self.assertEqual(whole[512:1024].tolist(), rows.tolist())
        self.assertEqual(self.model.read_tensor(name, rows=slice(2, 4)).tolist(), rows.tolist())
        half = self.model.read_tensor(name, rows=(2, 4), dtype="f16")
        self.assertEqual((half.format, len(half)), ("H", 512))
        for a, b in zip(struct.unpack("=512e", half), rows.tolist()):
            self.assertAlmostEqual(a, b, delta=abs(b) * 1e-3)
        out = array.array("f", [0.0]) * 256
        self.assertEqual(self.model.read_tensor_into(name, out, rows=7), 1024)
        self.assertEqual(out.tolist(), whole[7 * 256:8 * 256].tolist())

    def test_tensor_read_errors(self):
        name = "blk.0.attn_q.weight"
        with self.assertRaises(bitnet.BitnetError) as cm:
            self.model.read_tensor_into(name, bytearray(100), rows=(0, 1))
        self.assertEqual(cm.exception.status, bitnet.Status.BUFFER_TOO_SMALL)
        with self.assertRaises(bitnet.BitnetError) as cm:
            self.model.read_tensor(name, rows=(250, 300))
        self.assertEqual(cm.exception.status, bitnet.Status.OUT_OF_RANGE)
        with self.assertRaises(bitnet.BitnetError) as cm:
            self.model.read_tensor("no.such.tensor", rows=(0, 1))
        self.assertEqual(cm.exception.status, bitnet.Status.NOT_FOUND)
        with self.assertRaises(ValueError):
            self.model.read_tensor(name, dtype="q4_0")
        with self.assertRaises(TypeError):
            self.model.read_tensor_into(name, b"\0" * 1024, rows=0)

    @unittest.skipIf(numpy is None, "numpy is not installed")
    def test_tensor_read_numpy(self):
        arr = self.model.read_tensor_numpy("token_embd.weight")
        self.assertEqual((arr.shape, arr.dtype), ((4096, 256), numpy.float32))
        rows = self.model.read_tensor_numpy("token_embd.weight", rows=(10, 12), dtype="f16")
        self.assertEqual((rows.shape, rows.dtype), ((2, 256), numpy.float16))
        # The embedding is stored as F16: the F16 read is exact.
        self.assertTrue(numpy.array_equal(rows.astype(numpy.float32), arr[10:12]))

    def test_tokenizer(self):
        m = self.model
        self.assertEqual(m.vocab_size, 4096)
        self.assertEqual((m.bos, m.eos), (4094, 4095))
        self.assertTrue(m.is_eog(m.eos))
        text = "And God said, Let there be light: and there was light."
        toks = m.tokenize(text)
        self.assertEqual(toks[0], m.bos)
        self.assertEqual(m.tokenize(text, add_special=False), toks[1:])
        self.assertEqual(m.detokenize(toks), text)
        self.assertEqual(b"".join(m.token_to_piece(t) for t in toks[1:]).decode(), text)
        self.assertIsNone(m.token_text(1 << 20))
        with self.assertRaises(bitnet.BitnetError) as cm:
            m.tokenize(b"\xff\xfe bad utf-8")
        self.assertEqual(cm.exception.status, bitnet.Status.INVALID_ARGUMENT)
        long_text = "light " * 500
        self.assertEqual(m.detokenize(m.tokenize(long_text, add_special=False)), long_text)

    def test_bad_context_argument(self):
        with self.assertRaises(bitnet.BitnetError) as cm:
            self.model.context(n_threads=0)
        self.assertEqual(cm.exception.status, bitnet.Status.INVALID_ARGUMENT)
        self.assertIn("n_threads", cm.exception.message)

    def test_generate_matches_cli(self):
        if not os.access(CLI, os.X_OK):
            self.skipTest("bitnet CLI %s absent (set BITNET_CLI)" % CLI)
        out = subprocess.run([CLI, "run", "--model", MODEL, "--prompt", PROMPT, "--temp", "0", "--json",
                              "--max-new-tokens", str(N_GEN)], check=True, capture_output=True, text=True)
        expected = json.loads(out.stdout)
        self.assertEqual(len(expected["tokens"]), N_GEN)
        self.assertEqual(self.model.tokenize(PROMPT), expected["prompt_tokens"])
        with self.model.context() as ctx:
            got = list(bitnet.generate(ctx, PROMPT, max_new_tokens=N_GEN))
        self.assertEqual([t.id for t in got], expected["tokens"])
        self.assertEqual("".join(t.text for t in got).lstrip(" "), expected["text"].lstrip(" "))

    def test_logits_and_sampler(self):
        with self.model.context(logits_all=True) as ctx, bitnet.Sampler(temperature=0) as greedy:
            with self.assertRaises(IndexError):
                ctx.logits()
            toks = self.model.tokenize(PROMPT)
            ctx.decode(toks)
            self.assertEqual(ctx.n_past, len(toks))
            self.assertEqual(ctx.tokens, toks)
            last = ctx.logits()
            self.assertEqual((last.format, len(last)), ("f", 4096))
            self.assertEqual(ctx.logits(len(toks) - 1).tolist(), last.tolist())
            best = max(range(len(last)), key=last.__getitem__)
            self.assertEqual(greedy.sample(ctx), best)
            self.assertEqual(greedy.sample(last), best)
            self.assertEqual(greedy.sample(array.array("f", last.tolist())), best)
            if numpy is not None:
                self.assertEqual(int(numpy.argmax(ctx.logits_numpy())), best)
            with self.assertRaises(IndexError):
                ctx.logits(len(toks))
            ctx.trim(2)
            self.assertEqual(ctx.tokens, toks[:2])
            ctx.clear()
            self.assertEqual(ctx.n_past, 0)
            self.assertGreater(ctx.memory()["kv_bytes"], 0)
            self.assertEqual(ctx.stats()["n_decode_calls"], 1)
            with self.assertRaises(bitnet.BitnetError) as cm:
                ctx.decode([4096])
            self.assertEqual(cm.exception.status, bitnet.Status.OUT_OF_RANGE)

    def test_seeded_sampling_repeats(self):
        def run(seed):
            with self.model.context() as ctx, bitnet.Sampler(temperature=1.0, seed=seed) as s:
                return [t.id for t in ctx.generate(PROMPT, s, max_new_tokens=12)]
        self.assertEqual(run(7), run(7))

    def test_context_full(self):
        with self.model.context(n_ctx=8) as ctx:
            ctx.decode(list(range(8)))
            with self.assertRaises(bitnet.BitnetError) as cm:
                ctx.decode([1])
            self.assertEqual(cm.exception.status, bitnet.Status.CONTEXT_FULL)
            self.assertEqual(ctx.n_past, 8)
            # generate stops when the context is full
            ctx.clear()
            self.assertEqual(len(list(ctx.generate(list(range(6)), max_new_tokens=10, ignore_eos=True))), 3)

    def test_state_roundtrip(self):
        with self.model.context() as a, self.model.context() as b, bitnet.Sampler(temperature=0) as s:
            first = [t.id for t in a.generate(PROMPT, s, max_new_tokens=6)]
            a.decode([first[-1]])
            data = a.state_bytes(s)
            with bitnet.Sampler(temperature=0) as s2:
                b.load_state_bytes(data, s2)
                self.assertEqual(b.tokens, a.tokens)
                self.assertEqual(b.logits().tolist(), a.logits().tolist())
                rest_a = [t.id for t in a.generate(None, s, max_new_tokens=6)]
                rest_b = [t.id for t in b.generate(None, s2, max_new_tokens=6)]
            self.assertEqual(rest_a, rest_b)
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "ctx.bnstate")
                a.save_state(path)
                b.clear()
                b.load_state(path)
                self.assertEqual(b.n_past, a.n_past)
                with self.assertRaises(bitnet.BitnetError) as cm:
                    b.load_state(os.path.join(d, "missing"))
                self.assertEqual(cm.exception.status, bitnet.Status.IO)
                self.assertEqual(b.n_past, a.n_past)
            with self.assertRaises(bitnet.BitnetError) as cm:
                b.load_state_bytes(data[:50])
            self.assertEqual(cm.exception.status, bitnet.Status.BAD_FORMAT)

    def test_lifetimes(self):
        m = bitnet.Model(MODEL, cache_bytes=1 << 20)
        ctx = m.context()
        m.close()
        m.close()  # idempotent
        with self.assertRaises(ValueError):
            m.tensors
        # The context keeps the C model alive.
        self.assertEqual(len(list(ctx.generate(PROMPT, max_new_tokens=3))), 3)
        self.assertEqual(ctx.model.vocab_size, 4096)
        ctx.close()
        with self.assertRaises(ValueError):
            ctx.n_past

    def test_from_bytes(self):
        with open(MODEL, "rb") as f:
            data = f.read()
        m = bitnet.Model.from_bytes(data)
        ctx = m.context()
        del m, data  # the buffer lives on with the context
        got = [t.id for t in ctx.generate(PROMPT, max_new_tokens=4)]
        self.assertEqual(len(got), 4)
        self.assertGreaterEqual(ctx.model.store_stats()["bytes_mapped"], 0)
        ctx.close()

    def test_log_callback(self):
        seen = []
        bitnet.set_log_callback(lambda level, msg: seen.append((level, msg)), bitnet.LogLevel.DEBUG)
        try:
            bitnet.Model(MODEL).close()
        finally:
            bitnet.set_log_callback(None)
        self.assertTrue(all(isinstance(m, str) for _, m in seen))


if __name__ == "__main__":
    unittest.main()
