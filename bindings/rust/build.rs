//! Links libbitnet. The folder of libbitnet.so comes from, in order:
//! $BITNET_LIB_DIR; `pkg-config --libs-only-L bitnet` (an installed
//! library); the repository's build folder (../../build/lib). The folder is
//! also put in the rpath of test and example binaries so they run in place.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_dirs() -> Option<Vec<String>> {
    let out = Command::new("pkg-config").args(["--libs-only-L", "bitnet"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.split_whitespace().filter_map(|f| f.strip_prefix("-L")).map(String::from).collect())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BITNET_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dirs = if let Some(dir) = env::var_os("BITNET_LIB_DIR") {
        vec![dir.to_string_lossy().into_owned()]
    } else if let Some(dirs) = pkg_config_dirs() {
        dirs // empty when the library is in a default folder of the linker
    } else {
        let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let build = manifest.join("..").join("..").join("build").join("lib");
        if !build.join("libbitnet.so").exists() {
            println!(
                "cargo:warning=libbitnet not found: set BITNET_LIB_DIR, install it (pkg-config bitnet) or build {}",
                build.display()
            );
        }
        vec![build.to_string_lossy().into_owned()]
    };
    for dir in &dirs {
        println!("cargo:rustc-link-search=native={}", dir);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    }
    println!("cargo:rustc-link-lib=dylib=bitnet");
}
