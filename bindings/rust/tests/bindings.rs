//! Tests against the kjv-bitnet fixture. Environment: BITNET_FIXTURES (default
//! ../shared/fixtures beside the repository), BITNET_CLI (default
//! build/tools/bitnet/bitnet). Tests that need the fixture print a message
//! and pass when it is absent.
use bitnet::{Context, ContextParams, Model, ModelParams, ReadType, Sampler, SamplerParams, Status};
use std::path::PathBuf;
use std::process::Command;

const PROMPT: &str = "In the beginning God created";
const N_GEN: usize = 24;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

fn fixture() -> Option<PathBuf> {
    let dir = std::env::var_os("BITNET_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("..").join("shared").join("fixtures"));
    let path = dir.join("kjv-bitnet").join("kjv-bitnet-4m-i2_s.gguf");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIP: fixture {} absent (set BITNET_FIXTURES)", path.display());
        None
    }
}

fn model() -> Option<Model> {
    fixture().map(|p| Model::load(p, &ModelParams::default()).expect("load the fixture"))
}

/// The integers of the JSON array after `"key": ` (the CLI prints flat arrays).
fn json_ints(json: &str, key: &str) -> Vec<i32> {
    let tag = format!("\"{}\": [", key);
    let start = json.find(&tag).unwrap_or_else(|| panic!("{} not in {}", key, json)) + tag.len();
    let end = start + json[start..].find(']').expect("closing bracket");
    json[start..end].split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect()
}

#[test]
fn generate_matches_cli() {
    let path = match fixture() {
        Some(p) => p,
        None => return,
    };
    let cli = std::env::var_os("BITNET_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("build").join("tools").join("bitnet").join("bitnet"));
    if !cli.exists() {
        eprintln!("SKIP: bitnet CLI {} absent (set BITNET_CLI)", cli.display());
        return;
    }
    let out = Command::new(&cli)
        .arg("run")
        .arg("--model")
        .arg(&path)
        .args(["--prompt", PROMPT, "--temp", "0", "--json", "--max-new-tokens"])
        .arg(N_GEN.to_string())
        .output()
        .expect("run the CLI");
    assert!(out.status.success(), "CLI failed: {}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8(out.stdout).unwrap();
    let expected = json_ints(&json, "tokens");
    assert_eq!(expected.len(), N_GEN);

    let model = Model::load(&path, &ModelParams::default()).unwrap();
    let prompt = model.tokenize(PROMPT, true).unwrap();
    assert_eq!(prompt, json_ints(&json, "prompt_tokens"));
    let mut ctx = Context::new(&model, &ContextParams::default()).unwrap();
    let mut sampler = Sampler::greedy().unwrap();
    let got: Vec<i32> = ctx.generate(&mut sampler, &prompt, N_GEN).collect::<bitnet::Result<_>>().unwrap();
    assert_eq!(got, expected);
    assert_eq!(ctx.n_past() as usize, prompt.len() + N_GEN - 1);
}

#[test]
fn missing_file_is_io() {
    let err = Model::load("/nonexistent/model.gguf", &ModelParams::default()).unwrap_err();
    assert_eq!(err.status, Status::Io);
    assert!(err.message.contains("/nonexistent/model.gguf"), "{}", err.message);
    assert!(err.to_string().starts_with("I/O error: "), "{}", err);
}

#[test]
fn bad_bytes_and_arguments() {
    let err = Model::load_memory(&b"not a model file at all"[..], &ModelParams::default()).unwrap_err();
    assert_eq!(err.status, Status::BadFormat);
    let err = Model::load("a\0b", &ModelParams::default()).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    let err = Sampler::new(&SamplerParams { top_p: f32::NAN, ..Default::default() });
    if let Err(e) = err {
        assert_eq!(e.status, Status::InvalidArgument);
    }
    let model = match model() {
        Some(m) => m,
        None => return,
    };
    let err = Context::new(&model, &ContextParams { n_threads: 0, ..Default::default() }).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("n_threads"), "{}", err.message);
    let mut ctx = Context::new(&model, &ContextParams { n_ctx: 8, ..Default::default() }).unwrap();
    assert!(ctx.logits().is_none());
    assert_eq!(ctx.decode(&[4096]).unwrap_err().status, Status::OutOfRange);
    ctx.decode(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(ctx.decode(&[1]).unwrap_err().status, Status::ContextFull);
    assert_eq!(ctx.n_past(), 8);
}

#[test]
fn metadata_and_tensors() {
    let model = match model() {
        Some(m) => m,
        None => return,
    };
    assert_eq!(model.meta_str("general.architecture").unwrap(), "bitnet-b1.58");
    assert_eq!(model.meta_uint("bitnet-b1.58.block_count").unwrap(), 4);
    assert!(model.meta_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert_eq!(model.meta_str("general.alignment").unwrap_err().status, Status::TypeMismatch);
    assert_eq!(model.meta("no.such.key").unwrap_err().status, Status::NotFound);
    let tokens = model.meta("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.type_name(), "array");
    assert_eq!(tokens.array_info().unwrap(), (bitnet::value_type::STRING, 4096));
    assert_eq!(tokens.array_str(0).unwrap(), "Ā");
    assert_eq!(model.meta_keys().unwrap().len(), model.meta_count());
    assert_eq!(model.gguf_version(), 3);

    let tensors = model.tensors().unwrap();
    assert_eq!(tensors.len(), 46);
    let q = model.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!((q.type_name, q.shape.as_slice(), q.n_rows), ("i2_s", &[256i64, 256][..], 256));
    assert!(tensors.contains(&q));
    assert_eq!(model.tensor("no.such.tensor").unwrap_err().status, Status::NotFound);
}

#[test]
fn tensor_read() {
    let model = match model() {
        Some(m) => m,
        None => return,
    };
    let name = "blk.0.attn_q.weight";
    let rows = model.read_tensor_f32(name, 2..4).unwrap();
    assert_eq!(rows.len(), 512);
    let scale = rows.iter().fold(0f32, |m, x| m.max(x.abs()));
    assert!(scale > 0.0 && rows.iter().all(|x| *x == 0.0 || x.abs() == scale), "ternary values");
    let all = model.read_tensor_f32(name, 0..256).unwrap();
    assert_eq!(&all[512..1024], &rows[..]);
    let half = model.read_tensor_u16(name, 2..4, ReadType::F16).unwrap();
    assert_eq!(half.len(), 512);
    let mut small = [0u8; 100];
    let err = model.read_tensor_into(name, 0..1, ReadType::F32, &mut small).unwrap_err();
    assert_eq!(err.status, Status::BufferTooSmall);
    assert_eq!(model.read_tensor_f32(name, 250..300).unwrap_err().status, Status::OutOfRange);
    assert_eq!(model.read_tensor_f32("no.such.tensor", 0..1).unwrap_err().status, Status::NotFound);
}

#[test]
fn tokenizer_round_trip() {
    let model = match model() {
        Some(m) => m,
        None => return,
    };
    assert_eq!((model.vocab_size(), model.bos(), model.eos()), (4096, Some(4094), Some(4095)));
    let text = "And God said, Let there be light: and there was light.";
    let toks = model.tokenize(text, true).unwrap();
    assert_eq!(toks[0], 4094);
    assert_eq!(model.detokenize(&toks, false).unwrap(), text);
    let pieces: Vec<u8> = toks[1..].iter().flat_map(|&t| model.token_to_piece(t, false).unwrap()).collect();
    assert_eq!(pieces, text.as_bytes());
    let err = model.tokenize_bytes(b"\xff bad", 0).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(model.token_text(1 << 20).is_none());
}

#[test]
fn shared_model_across_threads() {
    let model = match model() {
        Some(m) => m,
        None => return,
    };
    let mut single = Context::new(&model, &ContextParams::default()).unwrap();
    let prompt = model.tokenize(PROMPT, true).unwrap();
    let mut s = Sampler::greedy().unwrap();
    let expected: Vec<i32> = single.generate(&mut s, &prompt, 8).map(Result::unwrap).collect();
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                let mut ctx = Context::new(&model, &ContextParams::default()).unwrap();
                let mut s = Sampler::greedy().unwrap();
                let prompt = model.tokenize(PROMPT, true).unwrap();
                let got: Vec<i32> = ctx.generate(&mut s, &prompt, 8).map(Result::unwrap).collect();
                assert_eq!(got, expected);
            });
        }
    });
    // A context outlives the handle it was made from and can move threads.
    let ctx = Context::new(&model, &ContextParams::default()).unwrap();
    drop(model);
    let handle = std::thread::spawn(move || {
        let mut ctx = ctx;
        let mut s = Sampler::greedy().unwrap();
        let prompt = ctx.model().tokenize(PROMPT, true).unwrap();
        ctx.generate(&mut s, &prompt, 4).count()
    });
    assert_eq!(handle.join().unwrap(), 4);
}

#[test]
fn state_round_trip() {
    let model = match model() {
        Some(m) => m,
        None => return,
    };
    let prompt = model.tokenize(PROMPT, true).unwrap();
    let mut a = Context::new(&model, &ContextParams::default()).unwrap();
    let mut sa = Sampler::new(&SamplerParams { temperature: 0.9, seed: 5, ..Default::default() }).unwrap();
    let first: Vec<i32> = a.generate(&mut sa, &prompt, 5).map(Result::unwrap).collect();
    a.decode(&[*first.last().unwrap()]).unwrap();
    let state = a.state_to_vec(Some(&sa)).unwrap();

    let mut b = Context::new(&model, &ContextParams::default()).unwrap();
    let mut sb = Sampler::new(&SamplerParams { temperature: 0.9, seed: 99, ..Default::default() }).unwrap();
    b.load_state_bytes(Some(&mut sb), &state).unwrap();
    assert_eq!(b.tokens(), a.tokens());
    assert_eq!(b.logits().unwrap(), a.logits().unwrap());
    let next_a: Vec<i32> = a.generate(&mut sa, &[], 6).map(Result::unwrap).collect();
    let next_b: Vec<i32> = b.generate(&mut sb, &[], 6).map(Result::unwrap).collect();
    assert_eq!(next_a, next_b);

    let err = b.load_state_bytes(None, &state[..40]).unwrap_err();
    assert_eq!(err.status, Status::BadFormat);
    let dir = std::env::temp_dir().join(format!("bitnet-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ctx.bnstate");
    a.save_state(None, &file).unwrap();
    b.clear();
    b.load_state(None, &file).unwrap();
    assert_eq!(b.n_past(), a.n_past());
    assert_eq!(b.load_state(None, dir.join("missing")).unwrap_err().status, Status::Io);
    std::fs::remove_dir_all(&dir).unwrap();
    b.trim(3).unwrap();
    assert_eq!(b.tokens(), &prompt[..3]);
    assert!(b.memory().unwrap().kv_bytes > 0);
}

#[test]
fn load_from_memory() {
    let path = match fixture() {
        Some(p) => p,
        None => return,
    };
    let model = Model::load_memory(std::fs::read(path).unwrap(), &ModelParams::default()).unwrap();
    let mut ctx = Context::new(&model, &ContextParams::default()).unwrap();
    drop(model); // the buffer lives on with the context's reference
    let prompt = ctx.model().tokenize(PROMPT, true).unwrap();
    let mut s = Sampler::greedy().unwrap();
    assert_eq!(ctx.generate(&mut s, &prompt, 3).count(), 3);
}
