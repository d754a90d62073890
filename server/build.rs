//! Link options for the server binary.

fn main() {
    // Relative relocations packed (DT_RELR, glibc 2.36 and later): the position-independent
    // binary's 1.1 MB table of them, which the loader reads in full at every start, becomes
    // a few kilobytes. Same binary otherwise; measured in bench/ANALYSIS.md.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("-linux-gnu") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
