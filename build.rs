//! One name for the code the edge Worker leaves out: `cfg(cold)` is set for every native build
//! (the CLI, the tests) and for the admin Worker (`--features admin`), never for the edge Worker
//! (wasm32 without `admin`), which hands the cold routes to the admin Worker.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(cold)");
    println!("cargo::rerun-if-changed=build.rs");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if !wasm || std::env::var_os("CARGO_FEATURE_ADMIN").is_some() {
        println!("cargo::rustc-cfg=cold");
    }
}
